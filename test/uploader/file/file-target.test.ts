// The file:// target's temporary files: a write killed half-way (a real SIGKILL of the process
// writing) leaves nothing behind once the object is sent again, names as long as the docs
// allow get a temporary name too, and only an exact copy of the object is renamed into place.
import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { createFileTarget } from "../../../src/uploader/file/file-target.ts";
import { TargetError } from "../../../src/uploader/target-error.ts";

const FILE_TARGET = resolve(import.meta.dir, "../../../src/uploader/file/file-target.ts");
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const put = (url: string, key: string, data: Uint8Array) =>
  createFileTarget({ url }).putBytes(key, data, "application/octet-stream", { signal: new AbortController().signal });

/** Every entry under `dir`, as paths relative to it. */
const tree = (dir: string) => (readdirSync(dir, { recursive: true }) as string[]).sort();

describe("file:// target", () => {
  test("a write killed half-way leaves no stray file once the object is sent again", async () => {
    const out = mkdtempSync(join(tmpdir(), "ncd-file-target-"));
    const url = pathToFileURL(out).href;
    const key = "default/rec-1/segments/000001.mcap";
    // A process that writes the object's first slice, then waits forever for bandwidth.
    const writer = Bun.spawn(
      [
        process.execPath,
        "-e",
        `
        import { createFileTarget } from ${JSON.stringify(FILE_TARGET)};
        let granted = 0;
        // Held from the global scope: an unreachable pending write would be collected with its open file handle.
        const waiting = (globalThis.waiting = []);
        const bandwidth = { rate: null, sliceBytes: 4096, setRate() {}, take: () => (granted++ === 0 ? Promise.resolve() : new Promise((r) => waiting.push(r))) };
        const t = createFileTarget({ url: ${JSON.stringify(url)}, bandwidth });
        setInterval(() => {}, 1e6); // stays alive until killed
        t.putBytes(${JSON.stringify(key)}, new Uint8Array(1 << 20).fill(7), "application/octet-stream", { signal: new AbortController().signal });
        `,
      ],
      { stdout: "inherit", stderr: "inherit" },
    );
    // Wait until the partial file exists, then kill the writer as a crash would.
    const dir = join(out, "default/rec-1/segments");
    for (;;) {
      let entries: string[] = [];
      try {
        entries = readdirSync(dir);
      } catch {
        // not created yet
      }
      if (entries.length > 0) break;
      if (writer.exitCode !== null) throw new Error(`the writer exited (${writer.exitCode}) before writing`);
      await Bun.sleep(20);
    }
    writer.kill("SIGKILL");
    await writer.exited;
    expect(readdirSync(dir)).toHaveLength(1); // the partial write, under its temporary name

    const data = bytes(300 * 1024, 3);
    await put(url, key, data);
    expect(tree(out)).toEqual(["default", "default/rec-1", "default/rec-1/segments", "default/rec-1/segments/000001.mcap"]);
    expect(readFileSync(join(out, key)).equals(Buffer.from(data))).toBe(true);
  });

  test("an object whose name has 255 characters is stored, and no temporary file stays", async () => {
    const out = mkdtempSync(join(tmpdir(), "ncd-file-target-"));
    const name = "n".repeat(255);
    const data = bytes(5000, 9);
    await put(pathToFileURL(out).href, `default/rec-2/files/${name}`, data);
    expect(tree(join(out, "default/rec-2/files"))).toEqual([name]);
    expect(readFileSync(join(out, "default/rec-2/files", name)).equals(Buffer.from(data))).toBe(true);
  });

  test("a write whose source fails removes its temporary file", async () => {
    const out = mkdtempSync(join(tmpdir(), "ncd-file-target-"));
    const target = createFileTarget({ url: pathToFileURL(out).href });
    const dir = join(out, "default/rec-3/segments");
    await expect(
      target.put({
        key: "default/rec-3/segments/000001.mcap",
        localPath: join(out, "no such local file"),
        size: 10,
        signal: new AbortController().signal,
        onProgress() {},
      } as never),
    ).rejects.toThrow();
    let left: string[] = [];
    try {
      left = readdirSync(dir);
    } catch {
      // never created: nothing left either
    }
    expect(left).toEqual([]);
  });

  test("bytes that are not the object's (its sha256 or size differ) are never renamed into place, and the attempt is retried", async () => {
    const out = mkdtempSync(join(tmpdir(), "ncd-file-target-"));
    const local = join(out, "local.bin");
    const data = bytes(70_000, 5);
    writeFileSync(local, data);
    const target = createFileTarget({ url: pathToFileURL(out).href });
    const job = (sha256: string, size: number) =>
      target.put({ key: "default/rec-4/segments/000001.mcap", localPath: local, size, sha256, signal: new AbortController().signal, onProgress() {} } as never);
    // The local file changed after it was hashed: what is read is not what the queue knows.
    const stale = createHash("sha256").update("other bytes").digest("hex");
    const err = await job(stale, data.length).catch((e) => e);
    expect(err).toBeInstanceOf(TargetError);
    expect(err.info).toMatchObject({ protocol: "file", network: true, code: "Mismatch" });
    expect(err.message).toContain(`expected ${data.length} bytes with sha256 ${stale}`);
    expect(tree(join(out, "default/rec-4/segments"))).toEqual([]);
    // The exact bytes go through.
    await job(createHash("sha256").update(data).digest("hex"), data.length);
    expect(tree(join(out, "default/rec-4/segments"))).toEqual(["000001.mcap"]);
    expect(readFileSync(join(out, "default/rec-4/segments/000001.mcap")).equals(Buffer.from(data))).toBe(true);
  });
});
