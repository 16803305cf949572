// Seals one closed object (a segment or a file) into an age file beside it: a header naming
// its recipients, then the bytes in ChaCha20-Poly1305 chunks of 64 KiB (age's STREAM). The
// ciphertext is hashed as it is written, fdatasync'ed, renamed into place and its folder
// fsync'ed; only then may the caller record it and remove the plaintext. The file key lives
// only in this function's memory: no private key is needed here, and none is kept.
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { closeSync, existsSync, fdatasyncSync, openSync, readSync, renameSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { setImmediate } from "node:timers";
import { Encrypter } from "age-encryption";
import { O_NOFOLLOW, O_RDONLY } from "../../runtime/libc-flags.ts";
import { fsyncDir, writeAllSync } from "../disk/durable-fs.ts";
import { openForRewrite } from "../disk/safe-paths.ts";
import { type SealNote, writeSealNote } from "../disk/seal-note.ts";

/** The name a sealed object has, locally and in the target. */
export const SEALED_SUFFIX = ".age";
export const sealedPath = (path: string) => `${path}${SEALED_SUFFIX}`;
/** The ciphertext being written; never acknowledged, removed at the next start. */
const sealingTmpPath = (path: string) => `${path}${SEALED_SUFFIX}.sealing`;

/** Plaintext read per step: age's own chunk size, so memory stays bounded by a chunk or two. */
const READ_BYTES = 64 * 1024;
/** Steps between yields to the event loop, so a large object sealed in-thread (no worker) does not hold up requests. */
const YIELD_EVERY = 16;

/**
 * The most an age file sealing `plaintextBytes` to `recipients` X25519 recipients takes: the
 * header (version line, one stanza of about 100 bytes per recipient, MAC), the 16-byte nonce,
 * and a 16-byte tag per 64 KiB chunk (at least one). Room for it is counted before sealing.
 */
export function sealedSizeBound(plaintextBytes: number, recipients: number): number {
  return plaintextBytes + 16 * Math.max(1, Math.ceil(plaintextBytes / READ_BYTES)) + 16 + 200 * recipients + 128;
}

export interface SealedObject {
  /** Ciphertext size and sha256: what is uploaded. */
  bytes: number;
  sha256: string;
  recipients: string[];
}

/** Encrypts `plainPath` to `recipients` into `sealedPath(plainPath)`, durable when it resolves, its `note` (seal-note.ts) written beside it first. */
export async function sealFile(plainPath: string, recipients: string[], out = sealedPath(plainPath), note?: SealNote): Promise<SealedObject> {
  const encrypter = new Encrypter();
  for (const r of recipients) encrypter.addRecipient(r);
  const src = openSync(plainPath, O_RDONLY | O_NOFOLLOW);
  const tmp = sealingTmpPath(plainPath);
  let dst: number | undefined;
  try {
    dst = openForRewrite(tmp);
    let steps = 0;
    let pos = 0;
    const plaintext = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          if (++steps % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
          const buf = new Uint8Array(READ_BYTES);
          const n = readSync(src, buf, 0, READ_BYTES, pos);
          if (n === 0) return controller.close();
          pos += n;
          controller.enqueue(buf.subarray(0, n));
        },
      },
      { highWaterMark: 0 },
    );
    const hash = createHash("sha256");
    let bytes = 0;
    const reader = (await encrypter.encrypt(plaintext)).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      writeAllSync(dst, value, bytes);
      hash.update(value);
      bytes += value.byteLength;
    }
    fdatasyncSync(dst);
    closeSync(dst);
    dst = undefined;
    const sha256 = hash.digest("hex");
    // The note first: a ciphertext under its name always has its note beside it.
    if (note) writeSealNote(out, { ...note, recipients: [...recipients], bytes, sha256 });
    renameSync(tmp, out);
    fsyncDir(dirname(out));
    return { bytes, sha256, recipients: [...recipients] };
  } catch (err) {
    if (dst !== undefined) closeSync(dst);
    if (existsSync(tmp)) unlinkSync(tmp);
    throw err;
  } finally {
    closeSync(src);
  }
}

const AGE_HEADER = "age-encryption.org/v1\n";

/** True when the file starts as an age file does. */
export function isAgeFile(path: string): boolean {
  const fd = openSync(path, O_RDONLY | O_NOFOLLOW);
  try {
    const buf = Buffer.alloc(AGE_HEADER.length);
    return readSync(fd, buf, 0, buf.length, 0) === buf.length && buf.toString("latin1") === AGE_HEADER;
  } finally {
    closeSync(fd);
  }
}

/** Removes the plaintext of an object whose ciphertext is recorded (and its folder entry durably). */
export function removePlaintext(plainPath: string): void {
  if (!existsSync(plainPath)) return;
  unlinkSync(plainPath);
  fsyncDir(dirname(plainPath));
}
