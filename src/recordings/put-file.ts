// Streams a whole file into <recording>/files/<name>: bytes are checked against the storage
// limit as they arrive (and against Content-Length up front), hashed on the way, fdatasync'ed,
// then renamed into place with the directory fsync'ed, and only then recorded and acknowledged.
// A large body with a declared length is written by the runtime natively where it can, and
// hashed from the file as it lands; others pass through JavaScript a chunk at a time.
import { closeSync, existsSync, fdatasync, fdatasyncSync, fstatSync, openSync, renameSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { eq, sql } from "drizzle-orm";
import { ConflictError } from "../errors.ts";
import { files, recordings } from "../store/schema.ts";
import type { Ctx } from "./context.ts";
import { enqueueUpload } from "./uploads/upload-queue.ts";
import { ensureDirDurable, fsyncDir, writeAllSync } from "./disk/durable-fs.ts";
import { requireWritable } from "./ingest.ts";
import { fileName, INCOMING, recordingDir, relPath } from "./disk/layout.ts";
import { assertFileName } from "./input/names.ts";
import { removePlaintext, sealedPath, sealedSizeBound, type SealedObject } from "./seal/seal-object.ts";
import { removeSealNote } from "./disk/seal-note.ts";

export interface StoredFile {
  name: string;
  bytes: number;
  sha256: string;
}

/**
 * `body` is the bytes as a stream, or the server request that carries them: a runtime that can
 * write a request's body to a file natively then does, where its length is declared.
 */
export async function putFile(ctx: Ctx, id: string, name: string, body: ReadableStream<Uint8Array> | Request, contentLength?: number): Promise<StoredFile> {
  assertFileName(name);
  requireWritable(ctx, id);
  const dir = join(recordingDir(ctx.root, id), "files");
  const finalPath = join(dir, name);
  // A sealed file is kept (and uploaded) only as "<name>.age": its name is taken all the same.
  const taken = () => existsSync(finalPath) || existsSync(sealedPath(finalPath));
  if (taken()) throw new ConflictError(`Recording ${id} already has a file named ${name}; use another name.`);
  if (contentLength !== undefined) ctx.budget.ensure(contentLength);
  ensureDirDurable(dir);
  // Not derived from the name: ".incoming-" plus a 255-character name is over NAME_MAX.
  const tmp = join(dir, `${INCOMING}${crypto.randomUUID()}`);
  const fd = openSync(tmp, "wx", 0o600);
  let bytes = 0;
  let counted = 0;
  let sha256 = "";
  let sealed: SealedObject | undefined;
  const to = ctx.limits.encryptTo;
  const flusher = earlyWriteback(fd);
  const hold = (n: number) => {
    ctx.budget.hold(n);
    counted += n;
  };
  const receiving = nativeWriter(ctx, body, contentLength)
    ? receiveNatively(ctx, fd, tmp, body as Request, contentLength!, flusher, hold)
    : receiveStream(ctx, fd, body instanceof Request ? body.body : body, contentLength, flusher, hold);
  try {
    bytes = await receiving.bytes;
    // A write-back error is reported to one fsync only: the early flush that saw it must fail
    // the file, or the last fdatasync could succeed over data the disk lost.
    const flushError = await flusher.idle();
    if (flushError) throw flushError;
    fdatasyncSync(fd);
    closeSync(fd);
    sha256 = await receiving.digest(tmp, bytes);
    requireWritable(ctx, id);
    if (taken()) throw new ConflictError(`Recording ${id} already has a file named ${name}; use another name.`);
    if (to) {
      // Sealed from the durable temp file: the plaintext never takes the file's name, so a
      // crash leaves only an unacknowledged temp file (removed at start), never a plain file to adopt.
      // Plaintext and ciphertext are on disk together until the seal is durable: the
      // ciphertext needs room under storage_limit too, or the file is refused (nothing stored).
      const room = sealedSizeBound(bytes, to.length);
      ctx.budget.ensure(room);
      ctx.budget.hold(room);
      try {
        const note = { plaintext_bytes: bytes, plaintext_sha256: sha256, recipients: to };
        sealed = await ctx.compactor.seal({ path: tmp, recipients: to, out: sealedPath(finalPath), note });
      } finally {
        ctx.budget.hold(-room);
      }
      removePlaintext(tmp);
    } else {
      renameSync(tmp, finalPath);
      fsyncDir(dir);
    }
  } catch (err) {
    await flusher.idle();
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    if (existsSync(tmp)) unlinkSync(tmp);
    ctx.budget.hold(-counted);
    receiving.abort();
    throw err;
  }
  const path = relPath(id, fileName(name));
  const now = ctx.clock.now();
  ctx.budget.hold(-counted);
  // What stays on disk and is uploaded: the ciphertext when sealed.
  const stored = sealed ? { path: sealedPath(path), bytes: sealed.bytes, sha256: sealed.sha256 } : { path, bytes, sha256 };
  try {
    ctx.store.tx(() => {
      ctx.budget.add(id, stored.bytes);
      ctx.store.run(
        ctx.store.db.insert(files).values({
          recording_id: id,
          name,
          path,
          bytes,
          sha256,
          created_at: now,
          ...(sealed ? { sealed_bytes: sealed.bytes, sealed_sha256: sealed.sha256, sealed_to: JSON.stringify(sealed.recipients) } : {}),
        }),
      );
      ctx.store.run(
        ctx.store.db
          .update(recordings)
          .set({ bytes: sql`${recordings.bytes} + ${stored.bytes}`, last_write_at: now, updated_at: now })
          .where(eq(recordings.id, id)),
      );
      enqueueUpload(ctx, { recordingId: id, kind: "file", path: stored.path, size: stored.bytes, sha256: stored.sha256, now });
    });
    ctx.lastWrite.set(id, ctx.clock.monotonic());
  } catch (err) {
    // Not recorded, so not acknowledged: the file goes too (else a restart would adopt it).
    ctx.budget.resync();
    unlinkSync(sealed ? sealedPath(finalPath) : finalPath);
    if (sealed) removeSealNote(sealedPath(finalPath));
    fsyncDir(dir);
    throw err;
  }
  if (sealed)
    ctx.emit("object.sealed", {
      recording_id: id,
      key: `${fileName(name)}.age`,
      plaintext_bytes: bytes,
      bytes: sealed.bytes,
      recipients: sealed.recipients.length,
    });
  ctx.emit("file.stored", { recording_id: id, name, bytes, sha256 });
  return { name, bytes, sha256 };
}

/** Below this, a file's body is read in JavaScript: handing it to a native writer and a hashing thread is not worth it. */
const NATIVE_MIN_BYTES = 1024 * 1024;

interface Receiving {
  /** Resolves with the bytes written once the whole body is in the file (not yet synced). */
  bytes: Promise<number>;
  /** The sha256 of the `bytes` bytes now in the file at `path`. */
  digest(path: string, bytes: number): Promise<string>;
  /** The write failed: stop hashing. */
  abort(): void;
}

type Flusher = ReturnType<typeof earlyWriteback>;

function nativeWriter(ctx: Ctx, body: ReadableStream<Uint8Array> | Request, contentLength: number | undefined): boolean {
  return body instanceof Request && !!ctx.runtime.writeRequestBody && contentLength !== undefined && contentLength >= NATIVE_MIN_BYTES;
}

/**
 * A declared length is checked against the storage limit up front (and held whole), and the
 * server reads no byte past it, so the runtime can move the body from the socket to the file
 * itself; the bytes are hashed on the worker thread, read back from the page cache as they land.
 */
function receiveNatively(ctx: Ctx, fd: number, path: string, req: Request, contentLength: number, flusher: Flusher, hold: (n: number) => void): Receiving {
  hold(contentLength);
  const hash = ctx.sha256.follow(path);
  let seen = 0;
  // The early write-back follows the file's size, which the native writer moves.
  const watch = setInterval(() => {
    let size = seen;
    try {
      size = fstatSync(fd).size;
    } catch {
      return; // the write's own error is the one that counts
    }
    flusher.wrote(size - seen);
    seen = size;
  }, 20);
  const write = async () => {
    try {
      const n = await ctx.runtime.writeRequestBody!(fd, req);
      if (n !== contentLength) throw new Error(`The body was ${n} bytes, not the ${contentLength} its Content-Length declared.`);
      return n;
    } finally {
      clearInterval(watch);
    }
  };
  const bytes = write();
  return { bytes, digest: (_path, n) => hash.digest(n), abort: () => hash.abort() };
}

/** Reads the body in JavaScript: each chunk checked against the storage limit, written, hashed. */
function receiveStream(
  ctx: Ctx,
  fd: number,
  body: ReadableStream<Uint8Array> | null,
  contentLength: number | undefined,
  flusher: Flusher,
  hold: (n: number) => void,
): Receiving {
  const hash = ctx.sha256.open(contentLength);
  const read = async () => {
    let bytes = 0;
    if (!body) return bytes;
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!value?.byteLength) continue;
      // Bytes already covered by a Content-Length check need no second check.
      if (contentLength === undefined || bytes + value.byteLength > contentLength) ctx.budget.ensure(value.byteLength);
      writeAllSync(fd, value, bytes);
      const n = value.byteLength;
      bytes += n;
      hold(n);
      await hash.update(value); // may detach value's buffer
      flusher.wrote(n);
    }
    return bytes;
  };
  return { bytes: read(), digest: (path) => hash.digest(path), abort: () => hash.abort() };
}

/** Dirty bytes after which a write-back of the file so far is started in the background. */
const WRITEBACK_EVERY = 32 * 1024 * 1024;

/**
 * Starts flushing a large file to the disk while the rest of it still arrives, so that the
 * final fdatasync (which alone makes it durable) waits for the last few MiB rather than for
 * the whole file: without it, a 512 MiB PUT spent about 0.4 s in that one call here. The
 * flushes run on the runtime's thread pool; at most one at a time.
 */
function earlyWriteback(fd: number) {
  let dirty = 0;
  let running: Promise<void> | undefined;
  let failed: Error | undefined;
  return {
    wrote(n: number) {
      dirty += n;
      if (dirty < WRITEBACK_EVERY || running || failed) return;
      dirty = 0;
      running = new Promise<void>((done) =>
        fdatasync(fd, (err) => {
          failed ??= err ?? undefined;
          done();
        }),
      ).finally(() => (running = undefined));
    },
    /** Waits for a flush in progress (the fd must not close under it); the first flush error, if any. */
    async idle(): Promise<Error | undefined> {
      await running;
      return failed;
    },
  };
}
