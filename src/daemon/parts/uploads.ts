// The uploads part: a worker pool sending closed segments, files and manifests to upload_url
// within bandwidth_limit. Nothing here touches the network before the socket answers, and a
// target that cannot be set up (no credentials, bad URL) is reported in status, not fatal.
import { readFileSync } from "node:fs";
import type { UploadInfo } from "../../api/index.ts";
import { parseMode, uploadConcurrency, type Config } from "../../config/index.ts";
import { createBandwidth } from "../../uploader/bandwidth.ts";
import { createTarget } from "../../uploader/create-target.ts";
import { resolveS3Settings } from "../../uploader/s3/s3-settings.ts";
import { recordingKey } from "../../uploader/layout.ts";
import { defaultRetryPolicy } from "../../uploader/retry.ts";
import type { Target } from "../../uploader/target.ts";
import { createUploader, type Uploader } from "../../uploader/uploader.ts";
import { createWakelock } from "../../uploader/wakelock.ts";
import { createTimetableTimer, type TimetableTimer } from "../../uploader/timetable-timer.ts";
import { publishScheduleChange, scheduleInputs, scheduleStatus } from "./upload-schedule.ts";
import { admission, createLinkWatch, linkKind, linkStatus, waitingStatus, type LinkWatch } from "./upload-link.ts";
import { endpointOf, type LinkView } from "../../uploader/link.ts";
import type { Recordings } from "../../recordings/recordings.ts";
import type { DaemonPlugin, PluginContext } from "../plugins.ts";
import { cachedUntilEvent } from "./cached.ts";
import { fileTargetProblem } from "../storage-check.ts";

/** What the recordings part asks of uploads (all no-ops while uploads are off). */
export interface UploadsHandle {
  kick(): void;
  cancel(recordingId: string): Promise<void>;
  /** Progress and remote location of one recording, merged into its API view. */
  info(recordingId: string): UploadInfo;
}

export type UploadsPlugin = DaemonPlugin & UploadsHandle;
/** The fields that make the rate in force and the upload hold. */
const SCHEDULE_FIELDS = new Set<keyof Config>(["bandwidth_limit", "bandwidth_schedule", "upload_window"]);
/** The fields that, with the link in use, make the metered gate and cap. */
const METERED_FIELDS = new Set<keyof Config>(["metered_policy", "metered_bandwidth_limit"]);
/** Events after which there may be something new to send. */
const WORK_EVENTS = new Set(["segment.closed", "recording.stopped", "file.stored"]);

const readFile = (p: string) => {
  try {
    return readFileSync(p, "utf8");
  } catch {
    return undefined;
  }
};

export function uploadsPart(deps: { recordings: Recordings }): (ctx: PluginContext) => UploadsPlugin {
  const { recordings } = deps;
  return (ctx) => {
    const cfg = ctx.config.get();
    const org = () => ctx.config.get().current_org_id ?? "default";
    let target: Target | undefined;
    let problem: string | null = null;
    const { redactor } = ctx;
    const bandwidth = createBandwidth(cfg.bandwidth_limit);
    let timetable: TimetableTimer | undefined;
    let link: LinkWatch | undefined;
    let gateReason = "";
    let gateRank = Infinity;
    if (cfg.upload_url?.toLowerCase().startsWith("s3:")) {
      // Keys from ~/.aws/credentials are secrets too, though not in the environment.
      try {
        const c = resolveS3Settings(cfg.upload_url, ctx.env, readFile).credentials;
        redactor.add(c?.accessKeyId, c?.secretAccessKey, c?.sessionToken);
      } catch {
        // A bad s3:// URL is reported below by createTarget.
      }
    }
    if (!cfg.upload_url) problem = "no upload_url is set: recordings are stored locally only";
    else {
      try {
        target = createTarget(cfg.upload_url, {
          env: ctx.env,
          readFile,
          apiKey: cfg.api_key ?? undefined,
          orgId: cfg.current_org_id ?? undefined,
          fileSlice: ctx.runtime.fileSlice,
          pushBody: ctx.runtime.pushBody,
          connectPaced: ctx.runtime.connectPaced,
          bandwidth,
          fileMode: parseMode(cfg.file_target_mode),
          log: ctx.log,
        });
      } catch (err) {
        problem = redactor.text(`upload target ${cfg.upload_url} cannot be used: ${(err as Error).message}`);
        ctx.log.error(`Uploads are off: ${problem}`);
      }
    }
    let wakelockWarning: string | null = null;
    const wakelock = cfg.keep_wakelock_while_upload ? createWakelock({ log: ctx.log, env: ctx.env, onWarning: (m) => (wakelockWarning = m) }) : undefined;
    let uploader: Uploader | undefined;
    let lastError: string | null = null;
    const objectCounts = cachedUntilEvent(ctx.events, 1000, () => ({ ...recordings.uploads.counts(), queue: recordings.uploads.queue() }));

    if (target) {
      const t = target;
      uploader = createUploader({
        // last_error is stored redacted, so no later reader (status, show, watch) can leak it.
        store: {
          ...recordings.uploadState,
          markRetrying: (id, r) => recordings.uploadState.markRetrying(id, { ...r, error: redactor.text(r.error) }),
          markFailed: (id, message, nextRetryAt) => recordings.uploadState.markFailed(id, redactor.text(message), nextRetryAt),
        },
        target: t,
        log: ctx.log,
        emit: (type, payload) => {
          if (type === "upload.failed" || type === "upload.retry") lastError = redactor.text(String(payload.error));
          // The link it was confirmed over, for the metrics by link kind (the one in use at its end).
          if (type === "upload.object_uploaded") payload = { ...payload, link: linkKind(link?.view()) };
          ctx.events.publish(type, payload); // the bus redacts every event
        },
        onLaunch: () => void link?.check(),
        beforePart: () => link?.check() ?? Promise.resolve(),
        numThreads: uploadConcurrency(cfg),
        offline: cfg.offline,
        // A robot may be offline for hours: an object out of attempts is failed, saying why, and
        // queued again on its own after at most an hour, for as long as it takes.
        retry: defaultRetryPolicy,
        wakelock,
      });
      const up = uploader;
      // bandwidth_limit, bandwidth_schedule and upload_window meet here: the rate in force and
      // whether uploads are held, applied now and at each boundary (upload-schedule.ts).
      const tt = createTimetableTimer({
        inputs: scheduleInputs(cfg),
        log: ctx.log,
        onChange: (previous, view) => {
          apply();
          publishScheduleChange({ log: ctx.log, publish: (t, d) => ctx.events.publish(t, d), config: ctx.config.get(), previous, view });
        },
      });
      timetable = tt;
      // The schedule, the link and the metered settings together: which priorities start, and the rate.
      const apply = () => {
        const c = ctx.config.get();
        const a = admission(tt.view(), link?.view() ?? UNKNOWN_LINK, c);
        bandwidth.setRate(a.rate);
        up.setGate(a.gate);
        if (a.gate.reason !== gateReason && a.gate.reason)
          ctx.log.info(`uploads: ${a.gate.maxRank < 0 ? "none start" : "only high priority starts"}: ${a.gate.reason}`);
        [gateReason, gateRank] = [a.gate.reason, a.gate.maxRank];
      };
      link = createLinkWatch({
        endpoint: endpointOf(cfg.upload_url!, cfg.upload_url!.toLowerCase().startsWith("s3:") ? s3Endpoint(cfg.upload_url!, ctx.env) : undefined),
        globs: cfg.metered_interfaces,
        onChange: (previous, view) => {
          const c = ctx.config.get();
          const text = view.interface ? `${view.interface} (${view.metered ? "metered" : "unmetered"})` : `unknown: ${view.unknown}`;
          ctx.log.info(`upload link: ${text}${view.metered ? `, metered_policy ${c.metered_policy}` : ""}`);
          ctx.events.publish("upload.link_changed", {
            interface: view.interface,
            kind: linkKind(view),
            previous: previous.interface,
            policy: c.metered_policy,
          });
          if (view.metered && c.metered_policy === "allow") ctx.log.warn(`uploads run over the metered link ${view.interface} (metered_policy: allow)`);
          apply();
        },
      });
      apply();
      const first = scheduleStatus(tt.view());
      if (first.held)
        ctx.log.info(
          `uploads wait for the upload schedule (${first.window_open ? "bandwidth_schedule is off" : "outside upload_window"}) until ${first.next_change?.at ?? "it changes"}`,
        );
      ctx.events.subscribe({ types: WORK_EVENTS, onEvent: () => up.kick(), onClose: () => {} });
      ctx.config.onChange((c, changed) => {
        if (changed.some((f) => SCHEDULE_FIELDS.has(f))) tt.update(scheduleInputs(c));
        if (changed.includes("metered_interfaces")) link?.setGlobs(c.metered_interfaces);
        if (changed.some((f) => METERED_FIELDS.has(f))) apply();
        if (changed.includes("num_threads") || changed.includes("max_concurrent_uploads")) up.setNumThreads(uploadConcurrency(c));
        if (changed.includes("offline")) up.setOffline(c.offline);
      });
    }

    return {
      name: "uploads",
      kick: () => uploader?.kick(),
      cancel: async (id) => uploader?.cancel(id),
      info(id) {
        if (!uploader || !target) return {};
        const progress = uploader.progress().recordings.find((r) => r.recording_id === id);
        return { remote: { location: target.location, key: recordingKey(target.prefix, org(), id, "") }, upload_progress: progress ?? null };
      },
      status: () => {
        // A target that does not work is the problem to show once the configuration is fine.
        const failing = uploader?.targetProblem() ?? null;
        return {
          uploads: {
            ...objectCounts(),
            enabled: Boolean(uploader),
            target: target?.location ?? null,
            // A file:// folder is looked at on each status: a NAS mounted later clears it.
            problem: problem ?? fileTargetProblem(cfg.upload_url) ?? (failing ? redactor.text(failing.problem) : null),
            target_problem: failing && { ...failing, problem: redactor.text(failing.problem), reason: redactor.text(failing.reason) },
            last_error: lastError,
            wakelock: wakelock ? { held: wakelock.held, warning: wakelockWarning } : null,
            ...(timetable ? { schedule: scheduleStatus(timetable.view()) } : {}),
            ...(link ? { link: linkStatus(link.view(), ctx.config.get()) } : {}),
            ...(uploader ? { waiting: waitingStatus(gateReason, gateRank, objectCounts().queue) } : {}),
            ...(uploader ? { progress: uploader.progress() } : {}),
          },
        };
      },
      start: () => uploader?.start(),
      async stop() {
        timetable?.stop();
        link?.stop();
        await uploader?.stop();
        wakelock?.release();
      },
    };
  };
}

const UNKNOWN_LINK: LinkView = { interface: null, address: null, metered: false, unknown: "not looked up yet" };

/** The S3 endpoint's URL; a bad s3:// URL has none (the target reports it). */
function s3Endpoint(url: string, env: Record<string, string | undefined>): string | undefined {
  try {
    return resolveS3Settings(url, env, readFile).endpoint;
  } catch {
    return undefined;
  }
}
