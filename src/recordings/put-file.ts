// Streams a whole file into <recording>/files/<name>: bytes are checked against the storage
// limit as they arrive (and against Content-Length up front), hashed on the way, fdatasync'ed,
// then renamed into place with the directory fsync'ed, and only then recorded and acknowledged.
import { closeSync, existsSync, fdatasync, fdatasyncSync, openSync, renameSync, unlinkSync } from "node:fs";
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

export async function putFile(ctx: Ctx, id: string, name: string, body: ReadableStream<Uint8Array>, contentLength?: number): Promise<StoredFile> {
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
  const hash = ctx.sha256.open(contentLength);
  let bytes = 0;
  let counted = 0;
  let sha256 = "";
  let sealed: SealedObject | undefined;
  const to = ctx.limits.encryptTo;
  const flusher = earlyWriteback(fd);
  try {
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
      ctx.budget.hold(n);
      counted += n;
      await hash.update(value); // may detach value's buffer
      flusher.wrote(n);
    }
    // A write-back error is reported to one fsync only: the early flush that saw it must fail
    // the file, or the last fdatasync could succeed over data the disk lost.
    const flushError = await flusher.idle();
    if (flushError) throw flushError;
    fdatasyncSync(fd);
    closeSync(fd);
    sha256 = await hash.digest(tmp);
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
    hash.abort();
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
