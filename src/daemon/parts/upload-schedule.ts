// The upload schedule as the daemon shows it: the timetable timer's inputs from the config,
// its view in status, and the events and log lines of a change (docs/api.md lists the events).
import { parseTimetable, parseWindows, type Config } from "../../config/index.ts";
import { nextChange, type ScheduleState } from "../../uploader/upload-timetable.ts";
import type { TimetableView } from "../../uploader/timetable-timer.ts";
import type { ScheduleInputs } from "../../uploader/upload-timetable.ts";

/** The config's fields were checked when set, so parsing them again cannot fail here. */
export function scheduleInputs(c: Config): ScheduleInputs {
  return {
    limit: c.bandwidth_limit,
    timetable: c.bandwidth_schedule ? parseTimetable(c.bandwidth_schedule) : null,
    windows: c.upload_window ? parseWindows(c.upload_window) : null,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
const stateJson = (s: ScheduleState) => ({ bandwidth_limit: s.rate, timetable_off: s.off, window_open: s.windowOpen });
const rateText = (r: number | null) => (r === null ? "unlimited" : `${r} bytes/s`);

/** status.uploads.schedule */
export function scheduleStatus(view: TimetableView) {
  return { ...stateJson(view), held: view.held, next_change: view.next && { at: iso(view.next.at), ...stateJson(view.next.state) } };
}

/** When the upload window next opens (or closes), from `now`; null when it never does. */
function nextWindowEdge(config: Config, now: number): string | null {
  const windows = config.upload_window ? parseWindows(config.upload_window) : null;
  const edge = nextChange({ limit: null, timetable: null, windows }, now);
  return edge ? iso(edge.at) : null;
}

export function publishScheduleChange(o: {
  log: { info(msg: string): void };
  publish(type: string, data: Record<string, unknown>): void;
  config: Config;
  previous: ScheduleState;
  view: TimetableView;
}) {
  const { view, previous } = o;
  const next = view.next ? iso(view.next.at) : null;
  if (view.rate !== previous.rate || view.off !== previous.off) {
    o.log.info(`upload rate in force: ${view.off ? "off (the bandwidth schedule starts no upload)" : rateText(view.rate)}${next ? `, until ${next}` : ""}`);
    o.publish("bandwidth.changed", { bandwidth_limit: view.rate, timetable_off: view.off, held: view.held, next_change_at: next });
  }
  if (view.windowOpen !== previous.windowOpen) {
    const edge = nextWindowEdge(o.config, Date.now());
    if (view.windowOpen) {
      o.log.info(`upload window open${edge ? ` until ${edge}` : ""}: uploads resume`);
      o.publish("upload.window_opened", { closes_at: edge, held: view.held });
    } else {
      o.log.info(`upload window closed: parts in flight finish, the rest waits${edge ? ` until ${edge}` : ""}`);
      o.publish("upload.window_closed", { opens_at: edge, held: view.held });
    }
  }
}
