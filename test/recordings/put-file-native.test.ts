// A large file PUT with a declared length, received by a real server on a Unix socket and handed
// to putFile as the request itself: the runtime writes the body to the file natively while the
// worker hashes the file as it grows. What is acknowledged is the sent bytes and their sha256;
// a client that hangs up, or a body over the storage limit, leaves nothing stored or held.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { contentLength } from "../../src/api/body.ts";
import type { StoredFile } from "../../src/recordings/put-file.ts";
import { type Fixture, makeFixture } from "./fixture.ts";

const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

let fx: Fixture;
let server: ReturnType<typeof Bun.serve>;
let socket: string;
/** What each PUT's putFile ended with, in the order they ended. */
let outcomes: Promise<StoredFile | Error>[];

beforeEach(() => {
  fx = makeFixture({ storageLimitBytes: 16 * MiB });
  socket = join(fx.dir, "s.sock");
  outcomes = [];
  server = Bun.serve({
    unix: socket,
    maxRequestBodySize: 1024 * MiB,
    fetch(req) {
      const name = new URL(req.url).pathname.slice(1);
      const id = req.headers.get("x-recording")!;
      const outcome = fx.recs.putFile(id, name, req, contentLength(req)).catch((e: Error) => e);
      outcomes.push(outcome);
      return outcome.then((r) => (r instanceof Error ? new Response(r.message, { status: 500 }) : Response.json(r, { status: 201 })));
    },
  } as Parameters<typeof Bun.serve>[0]);
});
afterEach(() => {
  server.stop(true);
  fx.cleanup();
});

function random(n: number) {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

/** Sends a PUT on a raw connection: the head, then `body` in pieces with pauses, then hangs up if `hangUp`. */
async function rawPut(id: string, name: string, declared: number, body: Uint8Array, hangUp = false) {
  const started = outcomes.length;
  const c = connect(socket);
  c.on("error", () => {});
  let got = "";
  // The answer is whole once its head and Content-Length bytes of body are in.
  const answered = new Promise<void>((r) =>
    c.on("data", (b) => {
      got += b.toString("latin1");
      const head = got.indexOf("\r\n\r\n");
      const length = Number(/content-length: (\d+)/i.exec(got)?.[1] ?? Number.NaN);
      if (head >= 0 && got.length - head - 4 >= length) r();
    }),
  );
  const closed = new Promise<void>((r) => c.on("close", () => r()));
  await new Promise<void>((r) => c.on("connect", () => r()));
  c.write(`PUT /${name} HTTP/1.1\r\nHost: d\r\nX-Recording: ${id}\r\nContent-Length: ${declared}\r\n\r\n`);
  // Pieces with pauses: the native writer and the hashing worker catch up and wait between them.
  for (let o = 0; o < body.length; o += 700_000) {
    await new Promise<void>((r) => c.write(body.subarray(o, Math.min(body.length, o + 700_000)), () => r()));
    await Bun.sleep(2);
  }
  if (hangUp) {
    // Only once the request has reached putFile: a hang-up before that tests nothing here.
    while (outcomes.length === started) await Bun.sleep(1);
    c.destroy();
  } else await answered;
  c.destroy();
  await closed;
  return got;
}

describe("a large file PUT written natively", () => {
  test("stores the sent bytes, 0600, with their sha256, and counts them once", async () => {
    const r = fx.recs.create();
    const bytes = random(9 * MiB + 321);
    await rawPut(r.id, "big.bin", bytes.length, bytes);
    const stored = await outcomes[0]!;
    expect(stored).toEqual({ name: "big.bin", bytes: bytes.length, sha256: sha(bytes) });
    const path = join(fx.root, r.id, "files", "big.bin");
    expect(sha(readFileSync(path))).toBe(sha(bytes));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(fx.recs.get(r.id).files).toEqual([{ name: "big.bin", bytes: bytes.length, sha256: sha(bytes) }]);
    expect(fx.recs.storage().used_bytes).toBe(bytes.length);
  });

  test("a client that hangs up mid-body leaves nothing in files/ and nothing held against the storage limit", async () => {
    const r = fx.recs.create();
    await rawPut(r.id, "cut.bin", 9 * MiB, random(3 * MiB), true);
    expect(await outcomes[0]!).toBeInstanceOf(Error);
    expect(readdirSync(join(fx.root, r.id, "files"))).toEqual([]);
    expect(fx.recs.get(r.id).files).toEqual([]);
    expect(fx.recs.storage().used_bytes).toBe(0);
    // The room it held is free again: a file of 15 MiB fits under the 16 MiB limit.
    const bytes = random(15 * MiB);
    await rawPut(r.id, "after.bin", bytes.length, bytes);
    expect(await outcomes[1]!).toEqual({ name: "after.bin", bytes: bytes.length, sha256: sha(bytes) });
  });

  test("a declared length over the storage limit is refused before a byte is written", async () => {
    const r = fx.recs.create();
    const reply = await fetch(`http://d/over.bin`, {
      method: "PUT",
      body: random(17 * MiB),
      headers: { "x-recording": r.id },
      unix: socket,
    } as RequestInit);
    expect(reply.status).toBe(500);
    expect(String(await outcomes[0]!)).toMatch(/storage/i);
    const files = join(fx.root, r.id, "files");
    expect(existsSync(files) ? readdirSync(files) : []).toEqual([]);
    expect(fx.recs.storage().used_bytes).toBe(0);
  });
});
