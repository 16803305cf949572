// file:///dir target: each object is written under a temporary name, fsynced, renamed into
// place and its directory fsynced, so a reader never sees a half-written object.
//
// Another program consumes the target, so other users may write into it. Nothing there is
// trusted: folders are walked without following links (target-dirs.ts); the temporary file
// has a random name and is created with O_CREAT|O_EXCL|O_NOFOLLOW|O_NONBLOCK, so a link
// planted at it is never written through and a FIFO never blocks a worker; it is created
// 0600 and checked to be a regular file. The bytes are hashed as they are written and the
// size is read back with fstat after fsync: only an exact copy is renamed into place, with
// file_target_mode and the target folder's group. A write cut short by a crash leaves a
// temporary file whose name starts with a tag of the key: the next attempt at the same
// object removes it, so strays never pile up, and the name stays short enough for an object
// whose name has the 255 characters a file name may have.
import { createHash, randomBytes } from "node:crypto";
import { type FileHandle, open, readdir, rename, unlink } from "node:fs/promises";
import { dirname, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { O_CLOEXEC, O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_WRONLY } from "../../runtime/libc-flags.ts";
import { createBandwidth, type Bandwidth } from "../bandwidth.ts";
import { bytesStream, rangeChunks } from "../body.ts";
import { READ_ONLY_ADVICE } from "../../errors.ts";
import { TargetError } from "../target-error.ts";
import type { Target } from "../target.ts";
import { dirModeFor, giveGroup, openBelow, openRoot, type TargetDir } from "./target-dirs.ts";

const NEEDS_A_PERSON = new Set(["EACCES", "EPERM", "EROFS", "ENOTDIR", "EISDIR", "EEXIST", "ELOOP", "UnsafePath"]);
const TEMP_FLAGS = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
const DEFAULT_FILE_TARGET_MODE = 0o640;

/** The error's code with its meaning, never its message (which may name a descriptor path, not the object). */
const ERRNO_MEANING: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  ENOTDIR: "a path component is not a folder",
  EISDIR: "is a folder",
  EEXIST: "already exists",
  ELOOP: "a link where a folder or file was expected",
  EIO: "input/output error",
};
const errnoText = (err: NodeJS.ErrnoException) => (err.code ? `${err.code}${ERRNO_MEANING[err.code] ? ` (${ERRNO_MEANING[err.code]})` : ""}` : err.message);

export interface FileTargetOptions {
  url: string;
  /** Unlimited when not given. */
  bandwidth?: Bandwidth;
  /** Mode of the objects (file_target_mode); their folders get the matching x bits. */
  mode?: number;
}

/** What an object must be once written: its sha256 (hex) and size. */
interface Expected {
  sha256: string;
  size: number;
}

export function createFileTarget(opts: FileTargetOptions): Target {
  const root = resolve(fileURLToPath(opts.url));
  const bandwidth = opts.bandwidth ?? createBandwidth(null);
  const mode = opts.mode ?? DEFAULT_FILE_TARGET_MODE;

  function partsOf(key: string): string[] {
    const p = resolve(root, key);
    if (!p.startsWith(root + sep)) throw new TargetError(`key ${key} leaves ${root}`, { protocol: "file", code: "BadKey" });
    return relative(root, p).split(sep);
  }

  /** Writes `chunks` (each valid only until the next is asked for) as the object `key`. */
  async function write(key: string, chunks: AsyncIterable<Uint8Array>, expected: Expected, signal: AbortSignal) {
    const parts = partsOf(key);
    const name = parts.pop()!;
    const dest = resolve(root, key);
    const tag = `.ncd-partial-${createHash("sha256").update(key).digest("hex").slice(0, 16)}-`;
    const tmp = `${tag}${randomBytes(8).toString("hex")}`;
    let dir: TargetDir | undefined;
    let fh: FileHandle | undefined;
    let madeTmp = false;
    try {
      const top = await openRoot(root);
      const gid = (await top.handle.stat()).gid;
      dir = await openBelow(top, parts, { dirMode: dirModeFor(mode), gid });
      await removeStrays(dir, tag);
      fh = await open(dir.at(tmp), TEMP_FLAGS, 0o600);
      madeTmp = true;
      if (!(await fh.stat()).isFile())
        throw new TargetError(`file target: ${dirname(dest)}/${tmp} is not a regular file`, { protocol: "file", code: "UnsafePath" });
      const hash = createHash("sha256");
      // Leaving the loop early (an error, an abort) closes the source file too.
      for await (const chunk of chunks) {
        signal.throwIfAborted();
        hash.update(chunk);
        await fh.write(chunk);
      }
      await fh.chmod(mode);
      await giveGroup(fh, gid);
      await fh.sync();
      const size = (await fh.stat()).size;
      const sha256 = hash.digest("hex");
      if (size !== expected.size || sha256 !== expected.sha256)
        throw new TargetError(
          `file target: ${dest} was not written exactly (${size} bytes with sha256 ${sha256}; expected ${expected.size} bytes with sha256 ${expected.sha256}); it is sent again`,
          { protocol: "file", network: true, code: "Mismatch" },
        );
      await fh.close();
      fh = undefined;
      await rename(dir.at(tmp), dir.at(name));
      await dir.handle.sync();
    } catch (e) {
      await fh?.close().catch(() => {});
      // Best effort: the reason to report is the write's, not the cleanup's.
      if (madeTmp && dir) await unlink(dir.at(tmp)).catch(() => {});
      if (signal.aborted) throw signal.reason;
      if (e instanceof TargetError) throw e;
      const err = e as NodeJS.ErrnoException;
      // A directory we may not write (permissions, a read-only mount, a file in the way) needs
      // a person, as an S3 403 does: the object fails, keeps its bytes, and `recordings retry`
      // sends it once fixed. Anything else (a full disk, an NFS mount away) may cure itself:
      // retried with backoff. The message names the object, never the descriptor path used.
      const permanent = NEEDS_A_PERSON.has(err.code ?? "");
      const advice = err.code === "EROFS" ? `. ${READ_ONLY_ADVICE}` : "";
      throw new TargetError(`file target: writing ${dest}: ${errnoText(err)}${permanent ? "; fix the directory, then retry the recording" : ""}${advice}`, {
        protocol: "file",
        network: !permanent,
        code: err.code,
      });
    } finally {
      await dir?.close();
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
      const chunks = rangeChunks(job.localPath, 0, job.size, {
        bandwidth,
        signal: job.signal,
        onBytes: (n) => job.onProgress((sent += n)),
      });
      await write(job.key, chunks, { sha256: job.sha256, size: job.size }, job.signal);
      return {};
    },
    async putBytes(key, bytes, _type, { signal }) {
      const expected = { sha256: createHash("sha256").update(bytes).digest("hex"), size: bytes.byteLength };
      await write(key, bytesStream(bytes, { bandwidth, signal }) as unknown as AsyncIterable<Uint8Array>, expected, signal);
    },
    async abort() {
      // Nothing is kept between attempts.
    },
  };
}

/** Removes what earlier attempts at the same object left (unlink never follows a link). */
async function removeStrays(dir: TargetDir, tag: string): Promise<void> {
  for (const entry of await readdir(dir.at("."))) if (entry.startsWith(tag)) await unlink(dir.at(entry)).catch(() => {});
}
