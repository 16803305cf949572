// The watched-folders part: notices files (and rosbag2 folders) that recorders finish in
// watch_paths and hands each, once it has settled, to the recordings library to adopt. Both
// notifications (fs.watch, best effort) and a periodic rescan find them, so a missed
// notification delays a file but never loses it. One adoption runs at a time.
import { lstatSync, readdirSync, rmdirSync, unlinkSync, watch, type FSWatcher } from "node:fs";
import { join } from "node:path";
import type { Recordings } from "../../recordings/recordings.ts";
import { isIgnoredName, listCandidates, type Candidate } from "../../recordings/watch/candidates.ts";
import { IncompleteMcap } from "../../recordings/watch/mcap-summary.ts";
import { writerOf } from "../../recordings/watch/open-writers.ts";
import { FileChanged, NotRegularFile, ReadStopped } from "../../recordings/watch/watched-file.ts";
import type { DaemonPlugin, PluginContext } from "../plugins.ts";

interface Seen {
  signature: string;
  /** Said to be still open for writing (said once per version). */
  open?: boolean;
  /** Monotonic ms when this signature was first seen. */
  since: number;
}

/** Rescan often enough to honour the settle time within half of it, but at least every 5 s. */
const rescanMs = (settle: number) => Math.max(100, Math.min(5000, (settle * 1000) / 2));

export function watchPart(deps: { recordings: Recordings }): (ctx: PluginContext) => DaemonPlugin {
  const { recordings } = deps;
  return (ctx) => {
    const folders = ctx.config.get().watch_paths;
    const seen = new Map<string, Seen>();
    /** Signatures not to try again until they change (skipped or incomplete), by path. */
    const parked = new Map<string, string>();
    const watchers = new Map<string, FSWatcher>();
    const unwatchable = new Map<string, string>();
    const counts = { skipped: 0, changed: 0, incomplete: 0, errors: 0 };
    let timer: ReturnType<typeof setTimeout> | undefined;
    let running: Promise<void> | undefined;
    let again = false;
    let stopping = false;
    const publish = (type: string, data: Record<string, unknown>) => void ctx.events.publish(type, data);

    function watchFolder(folder: string) {
      if (watchers.has(folder)) return;
      try {
        const w = watch(folder, { persistent: false }, () => kick());
        w.on("error", () => {
          w.close();
          watchers.delete(folder);
        });
        watchers.set(folder, w);
      } catch (err) {
        // Missing or unreadable now: the rescan keeps trying, and status says so (logged once per reason).
        const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        if (unwatchable.get(folder) !== reason) ctx.log.warn(`Watched folder ${folder} cannot be watched (${reason}); it is tried again at each rescan.`);
        unwatchable.set(folder, reason);
      }
    }

    async function adopt(c: Candidate) {
      try {
        const r = await recordings.watched.adopt(c, () => publish("watch.reading", { path: c.path }), ctx.signal);
        seen.delete(c.path);
        if (r.outcome === "adopted") {
          ctx.log.info(`Watched ${c.kind === "rosbag2" ? "rosbag2 folder" : "file"} ${c.path} adopted as recording ${r.recording_id} (${r.bytes} bytes).`);
          publish("watch.adopted", { path: c.path, kind: c.kind, recording_id: r.recording_id, bytes: r.bytes, sha256: r.sha256, traces: r.traces });
        }
      } catch (err) {
        const message = (err as Error).message;
        const code = (err as NodeJS.ErrnoException).code;
        if (err instanceof ReadStopped) {
          ctx.log.info(`Watched folder: ${message}; it is read again at the next start.`);
        } else if (code === "ENOENT") {
          // Gone between the scan and the read (moved away, deleted): nothing to adopt.
          ctx.log.debug(`Watched folder: ${c.path} disappeared before it was read.`);
          seen.delete(c.path);
        } else if (code === "EACCES" || code === "EPERM") {
          counts.skipped++;
          parked.set(c.path, c.signature);
          ctx.log.warn(`Watched folder: skipped ${c.path}: the daemon's user may not read it (${code}); it is tried again when it changes.`);
          publish("watch.skipped", { path: c.path, reason: message });
        } else if (err instanceof NotRegularFile) {
          counts.skipped++;
          parked.set(c.path, c.signature);
          ctx.log.warn(`Watched folder: skipped ${message}; only regular files are adopted.`);
          publish("watch.skipped", { path: c.path, reason: message });
        } else if (err instanceof IncompleteMcap) {
          counts.incomplete++;
          parked.set(c.path, c.signature);
          ctx.log.warn(`Watched folder: waiting for ${message}; it is adopted once it is complete.`);
          publish("watch.incomplete", { path: c.path, reason: message });
        } else if (err instanceof FileChanged) {
          counts.changed++;
          ctx.log.warn(`Watched folder: ${message}; it is read again once it settles.`);
          publish("watch.changed", { path: c.path, reason: message });
          seen.set(c.path, { signature: "changed", since: performance.now() });
        } else {
          counts.errors++;
          ctx.log.error(`Watched folder: ${c.path} could not be adopted (tried again once it settles):`, err);
          publish("watch.error", { path: c.path, message });
          seen.set(c.path, { signature: "failed", since: performance.now() });
        }
      }
    }

    async function scan() {
      const settleMs = ctx.config.get().watch_settle * 1000;
      for (const folder of folders) {
        watchFolder(folder);
        const candidates = listCandidates(folder);
        // Forget what is no longer there, so a long-running daemon's memory does not grow with history.
        const present = new Set(candidates.map((c) => c.path));
        for (const map of [seen, parked]) for (const p of map.keys()) if (p.startsWith(`${folder}/`) && !present.has(p)) map.delete(p);
        for (const c of candidates) {
          if (stopping) return;
          if (parked.get(c.path) === c.signature) continue;
          parked.delete(c.path);
          const now = performance.now();
          const s = seen.get(c.path);
          if (!s || s.signature !== c.signature) {
            seen.set(c.path, { signature: c.signature, since: now });
            continue;
          }
          if (now - s.since < settleMs) continue;
          if (recordings.watched.adoptedAlready(c)) {
            seen.delete(c.path);
            parked.set(c.path, c.signature);
            continue;
          }
          const writer = writerOf(c.files.map((f) => f.path));
          if (writer !== undefined) {
            // Unchanged but not closed: settles again from now, and is said once per version.
            if (!s.open) {
              ctx.log.info(`Watched folder: ${c.path} is unchanged but still open for writing (pid ${writer}); it is adopted once closed.`);
              publish("watch.still_open", { path: c.path, pid: writer });
            }
            seen.set(c.path, { signature: c.signature, since: now, open: true });
            continue;
          }
          await adopt(c);
        }
      }
    }

    /** Scans now (or right after the scan running), then again after the rescan period. */
    function kick() {
      if (stopping) return;
      if (running) {
        again = true;
        return;
      }
      if (timer) clearTimeout(timer);
      running = (async () => {
        do {
          again = false;
          try {
            await scan();
          } catch (err) {
            ctx.log.error("Watched folders: scan failed:", err);
          }
        } while (again && !stopping);
      })().finally(() => {
        running = undefined;
        if (!stopping) timer = setTimeout(kick, rescanMs(ctx.config.get().watch_settle));
      });
    }

    /** watch_after_upload: delete — only the version that was uploaded, only regular files. */
    function deleteUploaded(row: { id: number; path: string; kind: string; size: number; mtime_ns: string }) {
      try {
        const paths =
          row.kind === "rosbag2"
            ? readdirSync(row.path)
                .filter((n) => !isIgnoredName(n))
                .map((n) => join(row.path, n))
            : [row.path];
        const stats = paths.map((p) => lstatSync(p, { bigint: true }));
        const size = stats.reduce((n, s) => n + Number(s.size), 0);
        // biome-ignore lint/complexity/useMathMinMax: bigint nanoseconds; Math.max takes numbers only
        const mtime = stats.reduce((m, s) => (s.mtimeNs > m ? s.mtimeNs : m), 0n);
        if (stats.some((s) => !s.isFile()) || size !== row.size || String(mtime) !== row.mtime_ns) {
          ctx.log.warn(`Watched folder: ${row.path} changed since it was uploaded; not deleted.`);
          return;
        }
        for (const p of paths) unlinkSync(p);
        if (row.kind === "rosbag2") rmdirSync(row.path);
        recordings.watched.markDeleted(row.id);
        ctx.log.info(`Watched folder: ${row.path} deleted after upload (watch_after_upload: delete).`);
        publish("watch.deleted", { path: row.path });
      } catch (err) {
        ctx.log.warn(`Watched folder: ${row.path} could not be deleted after upload: ${(err as Error).message}`);
      }
    }

    if (folders.length) {
      ctx.events.subscribe({
        types: new Set(["recording.uploaded"]),
        onEvent: (e) => {
          if (ctx.config.get().watch_after_upload !== "delete") return;
          const row = recordings.watched.adoptedRowOf(String((e.data as { recording_id?: string }).recording_id));
          if (row) deleteUploaded(row);
        },
        onClose: () => {},
      });
    }

    return {
      name: "watch",
      status: () =>
        folders.length
          ? {
              watch: {
                paths: folders.map((path) => ({ path, watching: watchers.has(path) })),
                settling: [...seen.values()].filter((s) => s.signature !== "changed" && s.signature !== "failed").length,
                ...recordings.watched.counts(),
                ...counts,
              },
            }
          : {},
      start() {
        if (!folders.length) return;
        ctx.log.info(`Watching ${folders.join(", ")} (settle ${ctx.config.get().watch_settle} s; after upload: ${ctx.config.get().watch_after_upload}).`);
        if (ctx.config.get().watch_after_upload === "delete") for (const row of recordings.watched.uploadedNotDeleted()) deleteUploaded(row);
        kick();
      },
      async stop() {
        stopping = true;
        if (timer) clearTimeout(timer);
        for (const w of watchers.values()) w.close();
        await running;
      },
    };
  };
}
