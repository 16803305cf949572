// The S3 target's first sends on a link it has not measured, against s3rver through the fault
// proxy: one whose gate closes while it waits for the first send's figure starts no request.
import { beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createS3Target } from "../../../src/uploader/s3/s3-target.ts";
import type { PutJob } from "../../../src/uploader/target.ts";
import { s3rverTarget } from "../../support/s3rver.ts";
import { s3rverBehindProxy } from "../../support/s3rver-proxy.ts";

const MiB = 1024 * 1024;
const { s3, proxy } = await s3rverBehindProxy(["bkt"]);
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ncd-probe-"));
});

function file(name: string, size: number) {
  const path = join(dir, name);
  const bytes = new Uint8Array(size);
  for (let o = 0; o < size; o += 65536) crypto.getRandomValues(bytes.subarray(o, Math.min(size, o + 65536)));
  writeFileSync(path, bytes);
  return path;
}

function job(name: string, size: number, extra: Partial<PutJob> = {}): PutJob {
  const nothing = async () => {};
  return {
    key: `pre/${name}`,
    localPath: file(name, size),
    size,
    sha256: "",
    state: { status: "pending", bytesSent: 0, parts: [] },
    resume: { saveMultipart: nothing, savePart: nothing, saveTusUrl: nothing, saveBytesSent: nothing, clearResume: nothing },
    signal: new AbortController().signal,
    onProgress: () => {},
    ...extra,
  };
}

/** An S3 target to s3rver through the proxy; native file bodies exist, made by `fileSlice`. */
function target(fileSlice: (path: string, start: number, end: number) => Blob) {
  return createS3Target({
    ...s3rverTarget(s3, proxy.url),
    fileSlice,
  });
}

describe("the first sends on a link not measured yet", () => {
  test("a send whose gate closes while it waits for the first send's figure starts no request", async () => {
    // Native bodies exist here, so the first send's figure matters and the second waits for it.
    const t = target((path, start, end) => Bun.file(path).slice(start, end));
    // The first send crawls through the proxy (4 MiB/s), so it is still in flight while the
    // second waits for its figure.
    let arrived = () => {};
    const firstArrived = new Promise<void>((resolve) => (arrived = resolve));
    proxy.setFaults((req) => {
      if (!req.url?.includes("first.bin")) return undefined;
      arrived();
      return { kind: "drip", bytesPerSecond: 4 * MiB };
    });
    const stopFirst = new AbortController();
    const first = t.put(job("first.bin", 16 * MiB, { signal: stopFirst.signal }));
    await firstArrived;

    // The second asks to go on; its gate closes (an upload window ends) once it is waiting.
    const hold = new AbortController();
    const second = t.put(
      job("second.bin", 2 * MiB, {
        hold: hold.signal,
        mayContinue: async () => {
          setTimeout(() => hold.abort(new Error("window closed")), 0);
          return true;
        },
      }),
    );
    await expect(second).rejects.toThrow("window closed");
    stopFirst.abort(new Error("test over"));
    await expect(first).rejects.toThrow("test over");
    expect(proxy.requests.map((r) => `${r.method} ${r.url.split("?")[0]}`)).toEqual(["PUT /bkt/pre/first.bin"]);
  });
});

describe("a first send on a slow link", () => {
  test("the bytes buffers take at its start do not show the link fast: the send waiting beside it is not sent as a native body", async () => {
    const slices: string[] = [];
    const t = target((path, start, end) => {
      slices.push(path);
      return Bun.file(path).slice(start, end);
    });
    // The first send crawls (1 MiB/s), though the socket and the proxy take its first
    // megabytes at once; the second waits for its figure, then (none came) streams.
    let arrived = () => {};
    const firstArrived = new Promise<void>((resolve) => (arrived = resolve));
    proxy.reset();
    proxy.setFaults((req) => {
      if (!req.url?.includes("crawl.bin")) return undefined;
      arrived();
      return { kind: "drip", bytesPerSecond: 1 * MiB };
    });
    const stopFirst = new AbortController();
    const first = t.put(job("crawl.bin", 16 * MiB, { signal: stopFirst.signal }));
    await firstArrived;
    await t.put(job("beside.bin", 16 * MiB));
    stopFirst.abort(new Error("test over"));
    await expect(first).rejects.toThrow("test over");
    proxy.setFaults(undefined);
    expect(slices).toEqual([]);
    expect(proxy.requests.find((r) => r.url.includes("beside.bin"))?.bodyBytes).toBe(16 * MiB);
  }, 60_000);
});
