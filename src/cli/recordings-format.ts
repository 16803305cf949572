// How `recordings list` and `recordings show` print a recording for people (--json prints the
// daemon's objects as they are).
import type { RecordingDetail, RecordingList, RecordingView } from "../client/index.ts";
import { formatBytes } from "./output.ts";

const when = (iso: string | null) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "-");

function uploadText(r: RecordingView): string {
  const u = r.upload;
  if (!u.objects) return "-";
  const pct = u.bytes_total ? Math.floor((100 * u.bytes_sent) / u.bytes_total) : 100;
  return `${u.uploaded}/${u.objects} objects, ${pct}%${u.failed ? `, ${u.failed} failed` : ""}`;
}

const clock = (iso: string) => new Date(iso).toLocaleTimeString("en-GB", { hour12: false });

/** Why an upload is stuck, while it is: "attempt 3 failed: connection refused; next attempt at 10:04:07". */
export function uploadTrouble(u: RecordingView["upload"], state: string): string | null {
  if (!u.last_error || state === "uploaded" || state === "cancelled") return null;
  const next = u.next_retry_at ? `; next attempt at ${clock(u.next_retry_at)}` : "";
  return `attempt ${u.attempts} failed: ${u.last_error}${next}`;
}

export function renderTable(list: RecordingList): string {
  if (!list.items.length) return "No recordings.\n";
  const header = ["ID", "STATE", "NAME", "MESSAGES", "SIZE", "CREATED"];
  const rows = list.items.map((r) => [r.id, r.state, r.name ?? "-", String(r.message_count), formatBytes(r.bytes), when(r.created_at)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  const more = list.next_cursor ? `More: run again with --cursor ${list.next_cursor}\n` : "";
  return `${[line(header), ...rows.map(line)].join("\n")}\n${more}`;
}

export function renderDetail(r: RecordingDetail): string {
  // Added by the daemon when it has an upload target.
  const remote = (r as { remote?: { location?: string; key?: string } }).remote;
  const lines = [
    `Recording ${r.id}`,
    `  state      ${r.state}${r.error ? ` (${r.error})` : ""}`,
    `  priority   ${r.priority}`,
    `  name       ${r.name ?? "-"}`,
    `  dataset    ${r.dataset ?? "-"}`,
    `  robot      ${r.robot_id ?? "-"}`,
    `  created    ${when(r.created_at)}`,
    `  stopped    ${when(r.stopped_at)}`,
    `  messages   ${r.message_count}`,
    `  size       ${formatBytes(r.bytes)} (${formatBytes(r.local_bytes)} on local disk)`,
    `  upload     ${uploadText(r)}`,
    ...(uploadTrouble(r.upload, r.state) ? [`  retrying   ${uploadTrouble(r.upload, r.state)}`] : []),
    `  remote     ${remote?.location ? `${remote.location} ${remote.key ?? ""}`.trim() : "(no upload target)"}`,
  ];
  if (Object.keys(r.metadata ?? {}).length) lines.push(`  metadata   ${JSON.stringify(r.metadata)}`);
  lines.push(r.traces.length ? "  traces" : "  traces     (none)");
  for (const t of r.traces) lines.push(`    ${t.name}  ${t.encoding}  ${t.message_count} messages, ${formatBytes(t.bytes)}`);
  lines.push(r.files.length ? "  files" : "  files      (none)");
  for (const f of r.files) lines.push(`    ${f.name}  ${formatBytes(f.bytes)}  sha256 ${f.sha256}`);
  return `${lines.join("\n")}\n`;
}
