import { defineCommand } from "citty";
import type { StatusBody } from "../../api/index.ts";
import { createClient } from "../../client/index.ts";
import { homeOf, instanceOf, resolvePaths } from "../../config/index.ts";
import { readPid } from "../../daemon/instance-lock.ts";
import { DaemonNotRunningError } from "../../errors.ts";
import { instanceArg, jsonArg } from "../args.ts";
import type { CliContext } from "../context.ts";
import { formatBytes, printJson } from "../output.ts";
import type { Command } from "../run.ts";

const command = defineCommand({
  meta: { name: "status", description: "Ask the daemon whether it runs and how it is doing (exit 3 when it is not running)." },
  args: { ...instanceArg, ...jsonArg },
}) as Command;
command.examples = ["nc-data-daemon status", "nc-data-daemon status --json", "nc-data-daemon status --instance ci-7"];

function summary(s: StatusBody): string {
  const c = s.config;
  const rate = c.bandwidth_limit === null ? "unlimited" : `${formatBytes(c.bandwidth_limit)}/s`;
  const u = s.uploads;
  return [
    `Daemon running (pid=${s.pid}).`,
    `  version   ${s.version}`,
    `  uptime    ${s.uptime_s} s`,
    `  instance  ${s.instance ?? "default"}`,
    `  socket    ${s.socket}`,
    `  storage   ${formatBytes(s.storage.used_bytes)} used of ${formatBytes(s.storage.limit_bytes)}`,
    `  uploads   ${u.pending} pending, ${u.uploading} uploading, ${u.uploaded} uploaded, ${u.failed} failed`,
    `  settings  ${c.offline ? "offline" : "online"}, bandwidth ${rate}, ${c.num_threads} upload workers`,
  ].join("\n");
}

function notRunning(ctx: CliContext, json: boolean, paths: ReturnType<typeof resolvePaths>): number {
  const stale = readPid(paths.pidFile);
  if (json) printJson(ctx, { running: false, instance: paths.instance, socket: paths.socket });
  else {
    const note = stale ? ` (a stale pid file names pid ${stale}; the next launch cleans it up)` : "";
    ctx.out(`Daemon not running${note ? "." + note : "."}\n`);
  }
  return 3;
}

command.handler = async (a, ctx) => {
  const paths = resolvePaths(homeOf(ctx.env), instanceOf({ env: ctx.env, instance: a.instance as string | undefined }));
  const client = createClient({ socket: paths.socket, timeoutMs: 3000 });
  let status: StatusBody;
  try {
    status = await client.status();
  } catch (err) {
    if (err instanceof DaemonNotRunningError) return notRunning(ctx, a.json === true, paths);
    throw err;
  }
  if (a.json) printJson(ctx, status);
  else ctx.out(`${summary(status)}\n`);
  return 0;
};
export default command;
