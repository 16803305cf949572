// file:///dir target: each object is written under a temporary name, fsynced, renamed into
// place and its directory fsynced, so a reader never sees a half-written object. The temporary
// name is derived from the key alone: a write cut short by a crash leaves a file that the next
// attempt at the same object overwrites and renames, so strays never pile up; and it is short,
// so an object whose name has the 255 characters a file name may have still has one.
import { mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import { createBandwidth, type Bandwidth } from "../bandwidth.ts";
import { bytesStream, rangeStream } from "../body.ts";
import { READ_ONLY_ADVICE } from "../../errors.ts";
import { TargetError } from "../target-error.ts";
import type { Target } from "../target.ts";

const NEEDS_A_PERSON = new Set(["EACCES", "EPERM", "EROFS", "ENOTDIR", "EISDIR", "EEXIST"]);

export interface FileTargetOptions {
  url: string;
  /** Unlimited when not given. */
  bandwidth?: Bandwidth;
}

export function createFileTarget(opts: FileTargetOptions): Target {
  const root = resolve(fileURLToPath(opts.url));
  const bandwidth = opts.bandwidth ?? createBandwidth(null);

  function pathFor(key: string): string {
    const p = resolve(join(root, key));
    if (!p.startsWith(root + sep)) throw new TargetError(`key ${key} leaves ${root}`, { protocol: "file", code: "BadKey" });
    return p;
  }

  async function write(key: string, stream: ReadableStream<Uint8Array>, signal: AbortSignal) {
    const dest = pathFor(key);
    const tmp = join(dirname(dest), `.ncd-partial-${createHash("sha256").update(key).digest("hex").slice(0, 32)}`);
    try {
      await mkdir(dirname(dest), { recursive: true });
      const fh = await open(tmp, "w", 0o644);
      try {
        for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
          signal.throwIfAborted();
          await fh.write(chunk);
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, dest);
      const dir = await open(dirname(dest), "r");
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (e) {
      // A stream that was never read to its end still holds its file open: release it.
      await stream.cancel().catch(() => {});
      // Best effort: the reason to report is the write's, not the cleanup's (Bun's rm answers
      // EFAULT for a path through a file).
      await rm(tmp, { force: true }).catch(() => {});
      if (signal.aborted) throw signal.reason;
      const err = e as NodeJS.ErrnoException;
      // A directory we may not write (permissions, a read-only mount, a file in the way) needs
      // a person, as an S3 403 does: the object fails, keeps its bytes, and `recordings retry`
      // sends it once fixed. Anything else (a full disk, an NFS mount away) may cure itself:
      // retried with backoff.
      const permanent = NEEDS_A_PERSON.has(err.code ?? "");
      const advice = err.code === "EROFS" ? `. ${READ_ONLY_ADVICE}` : "";
      throw new TargetError(`file target: writing ${dest}: ${err.message}${permanent ? "; fix the directory, then retry the recording" : ""}${advice}`, {
        protocol: "file",
        network: !permanent,
        code: err.code,
      });
    }
  }

  return {
    protocol: "file",
    prefix: "",
    location: `file://${root}`,
    bandwidth,
    async put(job) {
      let sent = 0;
      job.onProgress(0);
      const stream = rangeStream(job.localPath, 0, job.size, {
        bandwidth,
        signal: job.signal,
        onBytes: (n) => job.onProgress((sent += n)),
      });
      await write(job.key, stream, job.signal);
      return {};
    },
    async putBytes(key, bytes, _type, { signal }) {
      await write(key, bytesStream(bytes, { bandwidth, signal }), signal);
    },
    async abort() {
      // Nothing is kept between attempts.
    },
  };
}
