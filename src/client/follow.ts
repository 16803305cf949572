// Following one recording, or the daemon's status, by the daemon's event stream (client.events),
// not by polling: the stream is subscribed first, then the thing is read, and it is read again
// only when an event says something about it (or about the configuration) changed. Events that arrive while the
// caller is busy collapse into one read, so a slow reader never falls behind.
import { RECORDING_STATES, SETTLED_STATES, type RecordingAnswer } from "../api/contract.ts";
import type { DaemonEvent, StatusBody } from "../api/index.ts";
import type { DaemonClient } from "./client.ts";
import { recordingsApi } from "./recordings-api.ts";

/** Recording states that still have work before the upload settles (every state but the settled ones). */
export const UNSETTLED_STATES = RECORDING_STATES.filter((s) => !(SETTLED_STATES as readonly string[]).includes(s));

export interface FollowOptions {
  /** Ends the following (the generator then returns). */
  signal?: AbortSignal;
  /** The event types that may change what is followed; default: the recording's and the uploads'. */
  types?: string[];
}

/** The recording now, then again after each change, until `signal` aborts or the daemon stops. */
export function followRecording(client: DaemonClient, id: string, opts: FollowOptions = {}): AsyncGenerator<RecordingAnswer> {
  const api = recordingsApi(client);
  const about = (e: DaemonEvent) => e.type === "config.changed" || (e.data as { recording_id?: unknown } | null)?.recording_id === id;
  return followChanges(client, opts.types ?? ["recording.*", "upload.*", "config.changed"], about, () => api.get(id), opts.signal);
}

/** The daemon's status now, then again after each event about recordings, uploads or the
 * configuration, until `signal` aborts or the daemon stops. */
export function followStatus(client: DaemonClient, opts: FollowOptions = {}): AsyncGenerator<StatusBody> {
  return followChanges(
    client,
    opts.types ?? ["recording.*", "upload.*", "config.changed"],
    () => true,
    () => client.status(),
    opts.signal,
  );
}

/** `read()` once subscribed to `types`, then again whenever an event `matters` says may have
 * changed what it reads; events that arrive during a read collapse into the next one. */
async function* followChanges<T>(
  client: DaemonClient,
  types: string[],
  matters: (e: DaemonEvent) => boolean,
  read: () => Promise<T>,
  signal?: AbortSignal,
): AsyncGenerator<T> {
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  if (signal?.aborted) return;
  signal?.addEventListener("abort", onAbort);
  let changed = false;
  let ended = false;
  let failure: unknown;
  let wake: (() => void) | undefined;
  const notify = () => {
    wake?.();
    wake = undefined;
  };
  let subscribed!: () => void;
  const ready = new Promise<void>((r) => (subscribed = r));
  const reading = (async () => {
    try {
      for await (const e of client.events(types, stop.signal, subscribed)) {
        if (matters(e)) {
          changed = true;
          notify();
        }
      }
    } catch (err) {
      if (!stop.signal.aborted) failure = err;
    }
    ended = true;
    subscribed();
    notify();
  })();
  try {
    await ready;
    if (failure) throw failure;
    if (stop.signal.aborted) return;
    for (;;) {
      changed = false;
      yield await read();
      while (!changed && !ended) await new Promise<void>((r) => (wake = r));
      if (failure) throw failure;
      if (!changed) return;
    }
  } finally {
    stop.abort();
    signal?.removeEventListener("abort", onAbort);
    await reading;
  }
}

export interface WaitOptions {
  /** Give up (and return the recording as it is) after this long. Default: no limit. */
  timeoutMs?: number;
  /** Ignored: the wait follows the daemon's events instead of asking at an interval. */
  pollMs?: number;
}

/**
 * Waits until a stopped recording is uploaded, failed or cancelled. When the daemon has no
 * upload target or is offline, nothing would ever change, so it returns the recording as it
 * is once it has been finalized (pending_upload) rather than hang a script forever.
 */
export async function waitForUpload(client: DaemonClient, id: string, opts: WaitOptions = {}): Promise<RecordingAnswer> {
  const giveUp = new AbortController();
  const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => giveUp.abort(), opts.timeoutMs);
  try {
    // A recording's state changes come with its recording.* events (stopped, uploaded, failed,
    // cancelled); offline and the target are config.
    for await (const rec of followRecording(client, id, { signal: giveUp.signal, types: ["recording.*", "config.changed"] })) {
      if ((SETTLED_STATES as readonly string[]).includes(rec.state)) return rec;
      if (rec.state !== "recording" && rec.state !== "finalizing") {
        const status = await client.status();
        if (status.uploads.enabled === false || status.config.offline) return rec;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  // Given up, or the daemon stopped: the recording as it is now.
  return recordingsApi(client).get(id);
}
