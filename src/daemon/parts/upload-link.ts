// The link uploads leave by, as the daemon runs it: looked up (uploader/link.ts) when an upload
// starts, before each part (at most once a second) and every 30 s on a monotonic timer (5 s
// while on a metered link, so held uploads resume soon after the unmetered one is back), so a
// switch from Wi-Fi to LTE mid-upload is met at the next part. With the upload schedule it
// makes the gate (which priorities may start, and why the others wait) and the rate in force;
// and their status sections.
import { isIP } from "node:net";
import type { Config } from "../../config/index.ts";
import { findLink, isMetered, type LinkEndpoint, type LinkView } from "../../uploader/link.ts";
import type { UploadGate } from "../../uploader/uploader.ts";
import type { TimetableView } from "../../uploader/timetable-timer.ts";
import { PRIORITIES } from "../../store/states.ts";

const CHECK_EVERY_MS = 30_000;
/** On a metered link, uploads may be waiting for the unmetered one to come back: look more often (a look sends nothing). */
const CHECK_METERED_MS = 5_000;
/** Part boundaries and launches look again, but not more often than this. */
const RECHECK_MS = 1_000;
/** The target's name is looked up again after this long; the route to its address, each time. */
const RESOLVE_MS = 30_000;

export interface LinkWatch {
  view(): LinkView;
  /** Looks again unless it looked within the last second; resolves once the view is current. */
  check(): Promise<void>;
  /** metered_interfaces changed: the interface seen is judged again, and looked up anew. */
  setGlobs(globs: string[]): void;
  stop(): void;
}

export function createLinkWatch(o: { endpoint: LinkEndpoint; globs: string[]; onChange(previous: LinkView, view: LinkView): void }): LinkWatch {
  let globs = o.globs;
  let current: LinkView = { interface: null, address: null, metered: false, unknown: "not looked up yet" };
  let lastAt = -Infinity;
  let running: Promise<void> | undefined;
  let stopped = false;
  let resolved: { address: string; at: number } | undefined;
  const host = o.endpoint?.host;

  const apply = (next: LinkView) => {
    const previous = current;
    current = next;
    if (previous.interface !== next.interface || previous.metered !== next.metered || previous.unknown !== next.unknown) o.onChange(previous, next);
  };
  const look = () => {
    const cached = resolved && performance.now() - resolved.at < RESOLVE_MS ? resolved.address : undefined;
    running ??= findLink(o.endpoint, globs, cached)
      .then((v) => {
        lastAt = performance.now();
        // A name's address is kept for RESOLVE_MS: looking at the link often asks no name server each time.
        if (!cached && host && !isIP(host) && v.target) resolved = { address: v.target, at: lastAt };
        if (!stopped) apply(v);
      })
      .finally(() => (running = undefined));
    return running;
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    if (!stopped) timer = setTimeout(() => void look().finally(arm), current.metered ? CHECK_METERED_MS : CHECK_EVERY_MS);
  };
  void look().finally(arm);
  return {
    view: () => current,
    check: () => (performance.now() - lastAt < RECHECK_MS ? (running ?? Promise.resolve()) : look()),
    setGlobs(g) {
      globs = g;
      if (current.interface) apply({ ...current, metered: isMetered(current.interface, globs) });
      void look();
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

export interface Admission {
  gate: UploadGate;
  /** Bytes per second in force, null for none. */
  rate: number | null;
}

/** What may start and at what rate, from the schedule, the link and the metered settings. */
export function admission(schedule: TimetableView, link: LinkView, c: Pick<Config, "metered_policy" | "metered_bandwidth_limit">): Admission {
  const metered = link.metered;
  const meteredCap = metered ? c.metered_bandwidth_limit : null;
  const rate = schedule.rate === null ? meteredCap : meteredCap === null ? schedule.rate : Math.min(schedule.rate, meteredCap);
  // `high` passes a closed window, a timetable set to off and high-only; never pause (or offline).
  if (metered && c.metered_policy === "pause")
    return { gate: { maxRank: -1, reason: `waiting for an unmetered link (${link.interface} is metered, metered_policy: pause)` }, rate };
  if (metered && c.metered_policy === "high-only")
    return { gate: { maxRank: 0, reason: `waiting for an unmetered link (${link.interface} is metered, metered_policy: high-only)` }, rate };
  if (schedule.held)
    return { gate: { maxRank: 0, reason: schedule.windowOpen ? "waiting for the bandwidth schedule (it is off now)" : "waiting for the upload window" }, rate };
  return { gate: { maxRank: Infinity, reason: "" }, rate };
}

export const linkKind = (v: LinkView | undefined) => (!v?.interface ? "unknown" : v.metered ? "metered" : "unmetered");

/** status.uploads.link */
export function linkStatus(v: LinkView, c: Config) {
  return { interface: v.interface, address: v.address, kind: linkKind(v), metered_policy: c.metered_policy, note: v.unknown };
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const sizeText = (n: number) =>
  n >= GiB ? `${(n / GiB).toFixed(1)} GiB` : n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} bytes`;

/** status.uploads.waiting: what the gate keeps back now (recordings of the priorities it does not admit), and why. */
export function waitingStatus(reason: string, maxRank: number, queue: Record<string, { recordings: number; bytes: number }> | undefined) {
  if (!reason) return null;
  let recordings = 0;
  let bytes = 0;
  PRIORITIES.forEach((p, rank) => {
    if (rank > maxRank) [recordings, bytes] = [recordings + (queue?.[p]?.recordings ?? 0), bytes + (queue?.[p]?.bytes ?? 0)];
  });
  return { reason, recordings, bytes, text: `${reason}: ${recordings} recording${recordings === 1 ? "" : "s"}, ${sizeText(bytes)}` };
}
