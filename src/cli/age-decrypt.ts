// Opens sealed objects (age files) with an identity file, for `decrypt` and `recordings export`:
// streamed in 64 KiB chunks, written to a temp name, fsynced and renamed, and hashed on the way
// so the caller can check the plaintext against the manifest. The identity is read from the
// file the user names and kept in this process's memory only.
import { createHash } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { Decrypter } from "age-encryption";
import { UsageError, ValidationError } from "../errors.ts";

/** The age identities (AGE-SECRET-KEY-1...) in a file as age-keygen writes it; comments and blank lines skipped. */
export function readIdentities(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(`--identity ${path} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}).`);
  }
  const keys = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("AGE-SECRET-KEY-1"));
  if (!keys.length) throw new UsageError(`--identity ${path} holds no age identity (a line AGE-SECRET-KEY-1..., as age-keygen writes).`);
  return keys;
}

export interface Opened {
  bytes: number;
  sha256: string;
}

/** Decrypts `input` into `output` (which must not exist); the plaintext's size and sha256. */
export async function decryptFile(input: string, output: string, identities: string[]): Promise<Opened> {
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  const src = openSync(input, "r");
  const tmp = `${output}.${process.pid}.tmp`;
  const dst = openSync(tmp, "wx", 0o600);
  let pos = 0;
  const ciphertext = new ReadableStream<Uint8Array>(
    {
      pull(c) {
        const buf = new Uint8Array(64 * 1024);
        const n = readSync(src, buf, 0, buf.length, pos);
        if (n === 0) return c.close();
        pos += n;
        c.enqueue(buf.subarray(0, n));
      },
    },
    { highWaterMark: 0 },
  );
  const hash = createHash("sha256");
  let bytes = 0;
  try {
    const reader = (await d.decrypt(ciphertext)).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let off = 0; off < value.byteLength; ) off += writeSync(dst, value, off, value.byteLength - off);
      hash.update(value);
      bytes += value.byteLength;
    }
    fsyncSync(dst);
    closeSync(dst);
    renameSync(tmp, output);
  } catch (err) {
    try {
      closeSync(dst);
    } catch {
      // already closed
    }
    unlinkSync(tmp);
    throw new ValidationError(`${input} could not be decrypted: ${(err as Error).message} (is it sealed to this identity?).`);
  } finally {
    closeSync(src);
  }
  return { bytes, sha256: hash.digest("hex") };
}
