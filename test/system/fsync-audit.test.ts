// The fsync audit: kill -9 leaves the page cache intact, so it cannot show that acknowledged data
// is durable. Instead the daemon runs under strace, and the log must show every acknowledgement
// written to the client only after the fsyncs of its data, of new directory entries and of the
// state database. The parser is first shown to catch wrong orders in made-up logs.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { encodeFrames } from "../../src/client/frames.ts";
import { health, instancePaths, killAll } from "../daemon/helpers.ts";
import { BINARY, baseEnv } from "../support/binary.ts";
import { call, createRecording, isAlive, killDaemons, postFrames, postNdjson, tempHome, waitFor } from "./harness.ts";
import { requireTool, skipNote } from "../support/tools.ts";
import { auditAcks, auditOwnBatches, parseStrace, type Syscall } from "./strace-audit.ts";

const SOCK = "/h/.neuracore/data_daemon/daemon.sock";
const SEG = "/r/rec/segments/000001.mcap";
const WAL = "/h/.neuracore/data_daemon/state.db-wal";

/** A log from entries "name(args) = ret"; times rise by 100 µs per entry, each call takes 10 µs. */
function log(entries: string[]): string {
  return entries
    .map((e, i) => {
      const t = (1000 + i * 0.0001).toFixed(6);
      if (e.startsWith("RAW ")) return e.slice(4).replace("T", t);
      return `4242 ${t} ${e} <0.000010>`;
    })
    .join("\n");
}

const open = `openat(AT_FDCWD</tmp>, "${SEG}", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 14<${SEG}>`;
const header = `pwrite64(14<${SEG}>, "\\211MCAP0\\r\\n", 30, 0) = 30`;
const headerSync = `fdatasync(14<${SEG}>) = 0`;
const dirOpen = `openat(AT_FDCWD</tmp>, "/r/rec/segments", O_RDONLY|O_CLOEXEC) = 15</r/rec/segments>`;
const dirSync = `fsync(15</r/rec/segments>) = 0`;
const walWrite = `pwrite64(9<${WAL}>, "\\0\\0\\0\\4", 4096, 0) = 4096`;
const walSync = `fsync(9<${WAL}>) = 0`;
// A batch's bytes begin with a Chunk record (opcode 0x06); a segment's summary with DataEnd (0x0f).
const batch = `pwrite64(14<${SEG}>, "\\6\\4\\0", 400, 30) = 400`;
const summary = `pwrite64(14<${SEG}>, "\\17\\4\\0", 900, 430) = 900`;
const closeSync = `fsync(14<${SEG}>) = 0`;
const batchSync = `fdatasync(14<${SEG}>) = 0`;
const ack = `sendto(13<UNIX-STREAM:[1->2,"${SOCK}"]>, "HTTP/1.1 200 OK\\r\\nContent-Length: 32\\r\\n\\r\\n{\\"accepted\\":1,\\"traces\\":{\\"/a\\":1}}", 140, MSG_DONTWAIT|MSG_NOSIGNAL, NULL, 0) = 140`;
const good = [open, header, headerSync, dirOpen, dirSync, walWrite, walSync, batch, batchSync, walWrite, walSync, ack];

const audit = (entries: string[]) => auditAcks(parseStrace(log(entries)), SOCK);

describe("the strace audit", () => {
  test("accepts a batch written, fdatasync'ed, committed and only then acknowledged", () => {
    const r = audit(good);
    expect(r.violations).toEqual([]);
    expect(r.acks.map((a) => a.kind)).toEqual(["messages"]);
  });

  test("lets a full segment's close (its summary and fsync) run after the acknowledgement of the batch that filled it", () => {
    const next = [walWrite, walSync, batch.replace(", 30)", ", 1330)"), batchSync, walWrite, walSync];
    const closing = [...good.slice(0, -1), summary, ...next.slice(0, 2), `RAW 4242 T fsync(14<${SEG}> <unfinished ...>`, ...next.slice(2), ack];
    const text = log([...closing, `RAW 4242 T <... fsync resumed>) = 0 <0.000900>`]);
    // The ack of the batch after the close goes out while the close's fsync still runs, on another thread.
    const r = auditAcks(parseStrace(text.replace(/^4242 (\S+) sendto/m, "4243 $1 sendto")), SOCK);
    expect(r.violations).toEqual([]);
    // A batch write is not mistaken for a summary: one left unsynced is still caught.
    expect(audit([...good.slice(0, -1), summary, closeSync, batch, ack]).violations.join("\n")).toContain("not fsync'ed before the acknowledgement");
  });

  test("catches an acknowledgement written before the batch's fdatasync", () => {
    const reordered = [open, header, headerSync, dirOpen, dirSync, walWrite, walSync, batch, walWrite, walSync, ack, batchSync];
    expect(audit(reordered).violations.join("\n")).toContain("not fsync'ed before the acknowledgement");
  });

  test("catches an fdatasync that another thread's acknowledgement overtook (unfinished, resumed)", () => {
    const interleaved = [
      ...good.slice(0, 8),
      `RAW 4242 T fdatasync(14<${SEG}> <unfinished ...>`,
      walWrite,
      walSync,
      ack,
      `RAW 4242 T <... fdatasync resumed>) = 0 <0.000500>`,
    ];
    // The ack is on another thread, so the fdatasync is still running when it is written.
    const text = log(interleaved).replace(/^4242 (\S+) sendto/m, "4243 $1 sendto");
    const r = auditAcks(parseStrace(text), SOCK);
    expect(r.violations.join("\n")).toMatch(/still running when the acknowledgement was written|not fsync'ed/);
  });

  // A whole batch's bytes end with its batch-end record (0x8b, 16 bytes long, 3 messages), in the same pwritev.
  const endIov = `{iov_base="\\213\\20\\0\\0\\0\\0\\0\\0\\0\\3\\0\\0\\0\\0\\0\\0\\0\\36\\0\\0\\0\\0\\0\\0\\0", iov_len=25}`;
  const adoptable = `pwritev(14<${SEG}>, [{iov_base="\\6\\4\\0", iov_len=400}, ${endIov}], 2, 30) = 425`;

  test("accepts a batch whose synced bytes carry its batch-end record, committed without an fsync", () => {
    const r = audit([open, header, headerSync, dirOpen, dirSync, walWrite, walSync, adoptable, batchSync, walWrite, ack]);
    expect(r.violations).toEqual([]);
  });

  test("still wants the commit fsync'ed when the batch's synced bytes carry no batch-end record", () => {
    const r = audit([open, header, headerSync, dirOpen, dirSync, walWrite, walSync, batch, batchSync, walWrite, ack]);
    expect(r.violations.join("\n")).toContain(`${WAL} was written`);
  });

  test("catches a new segment whose directory was never fsync'ed", () => {
    const noDir = good.filter((e) => e !== dirSync);
    expect(audit(noDir).violations.join("\n")).toContain("its directory /r/rec/segments was not fsync'ed");
  });

  test("catches a database commit fsync'ed only after the acknowledgement", () => {
    const late = [...good.slice(0, 10), ack, walSync];
    expect(audit(late).violations.join("\n")).toContain(`${WAL} was written`);
  });

  test("catches counts committed before the bytes they count were durable", () => {
    const early = [...good.slice(0, 7), batch, walWrite, walSync, batchSync, ack];
    expect(audit(early).violations.join("\n")).toContain("no database commit began after the data was durable");
  });

  test("checks a file acknowledgement: temp file fsync'ed, renamed, directory fsync'ed, committed", () => {
    const tmp = "/r/rec/files/.incoming-a.bin-1234";
    const fileAck = `writev(13<UNIX-STREAM:[1->2,"${SOCK}"]>, [{iov_base="HTTP/1.1 201 Created\\r\\n\\r\\n{\\"name\\":\\"a.bin\\",\\"bytes\\":5,\\"sha256\\":\\"2cf2\\"}", iov_len=60}], 1) = 60`;
    const steps = [
      `openat(AT_FDCWD</tmp>, "${tmp}", O_WRONLY|O_CREAT|O_EXCL|O_TRUNC|O_CLOEXEC, 0600) = 15<${tmp}>`,
      `pwrite64(15<${tmp}>, "hello", 5, 0) = 5`,
      `fdatasync(15<${tmp}>) = 0`,
      `rename("${tmp}", "/r/rec/files/a.bin") = 0`,
      `openat(AT_FDCWD</tmp>, "/r/rec/files", O_RDONLY|O_CLOEXEC) = 16</r/rec/files>`,
      `fsync(16</r/rec/files>) = 0`,
      walWrite,
      walSync,
      fileAck,
    ];
    const ok = audit(steps);
    expect(ok.violations).toEqual([]);
    expect(ok.acks.map((a) => a.kind)).toEqual(["file"]);
    expect(audit(steps.filter((s) => !s.startsWith("rename"))).violations.join("\n")).toContain("was not renamed into place");
    expect(audit(steps.filter((s) => s !== "fsync(16</r/rec/files>) = 0")).violations.join("\n")).toContain("its directory /r/rec/files was not fsync'ed");
  });
});

// The real daemon under strace.
const noStrace = requireTool("strace");
const home = tempHome("ncd-strace");
let tracer: ReturnType<typeof Bun.spawn> | undefined;
afterAll(async () => {
  if (tracer && isAlive(tracer.pid)) tracer.kill("SIGKILL");
  await killAll(home);
  await killDaemons();
});

const TRACED = "openat,close,mkdir,mkdirat,write,writev,pwrite64,pwritev,pwritev2,sendto,sendmsg,fsync,fdatasync,sync_file_range,rename,renameat,renameat2";

describe.skipIf(noStrace !== undefined)(`the daemon under strace${skipNote(noStrace)}`, () => {
  test("writes every acknowledgement only after its data, new directory entries and the state database are fsync'ed", async () => {
    const logPath = join(home, "strace.log");
    const p = instancePaths(home);
    tracer = Bun.spawn(
      [
        Bun.which("strace")!,
        "-f",
        "-ttt",
        "-T",
        "-yy",
        "-s",
        "512",
        "-o",
        logPath,
        "-e",
        `trace=${TRACED}`,
        BINARY,
        "launch",
        "--offline",
        "--segment-max-bytes",
        "64kb",
      ],
      {
        env: baseEnv(home),
        cwd: home,
        stdout: "ignore",
        stderr: "pipe",
      },
    );
    const { pid } = await waitFor("daemon under strace", () => health(p.socket), 30_000);

    const ids = [await createRecording(p.socket, { name: "audit 1" }), await createRecording(p.socket, { name: "audit 2" })];
    let expectedAcks = 0;
    for (let b = 0; b < 4; b++) {
      for (const id of ids) {
        // ~40 KiB batches over a 64 KiB segment limit: new segments are created mid-run.
        const lines = Array.from({ length: 200 }, (_, i) => ({
          trace: "/a",
          timestamp: b + i / 1000,
          data: { b, i, pad: Buffer.from(crypto.getRandomValues(new Uint8Array(150))).toString("hex") },
        }));
        const r = await postNdjson(p.socket, id, lines);
        expect(r.status).toBe(200);
        expectedAcks++;
      }
    }
    const frames = encodeFrames([{ trace: "/bin", timestampNs: 1n, payload: new Uint8Array(crypto.getRandomValues(new Uint8Array(30_000))) }]);
    expect((await postFrames(p.socket, ids[0]!, frames)).status).toBe(200);
    expectedAcks++;
    // big.bin is large enough to be flushed in the background while it streams in.
    for (const [name, size] of [
      ["empty.bin", 0],
      ["calib.yaml", 100_000],
      ["big.bin", 80 * 1024 * 1024],
    ] as const) {
      const r = await call(p.socket, "PUT", `/v1/recordings/${ids[1]}/files/${name}`, new Uint8Array(size).fill(7));
      expect(r.status).toBe(201);
      expectedAcks++;
    }
    // Orderly exit, so the log is complete.
    await call(p.socket, "POST", "/v1/shutdown");
    await tracer.exited;
    expect(isAlive(tracer.pid)).toBe(false);
    expect(existsSync(logPath)).toBe(true);

    // The rewrite of closed segments runs on a worker thread beside the requests (in-thread for
    // small ones): its `.compact` temp file, the rename over the segment and the directory's
    // fsync stand under no acknowledgement (the acknowledged bytes are the sealed segment's,
    // fsync'ed before; the rewrite's own crash safety is compaction-crash.test.ts's). The
    // daemon's JavaScript thread is the one whose id is its pid.
    const rewrite = (c: Syscall) => [c.args, c.fdPath, c.retPath].some((s) => s?.includes(".mcap.compact"));
    const traced = parseStrace(readFileSync(logPath, "utf8"));
    const rewriters = new Set(traced.filter((c) => rewrite(c) && c.pid !== pid).map((c) => c.pid));
    // A next segment's file is made ahead under a name that is no segment's (".000002.mcap.next"),
    // unsynced: it stands under no acknowledgement until the batch that needs it renames it into
    // place, and that rename (its folder fsync'ed, the file fdatasync'ed) is audited as any new entry.
    const prepared = (c: Syscall) => [c.fdPath, c.retPath].some((s) => s?.includes(".mcap.next"));
    const calls = traced.filter((c) => !rewrite(c) && !rewriters.has(c.pid) && !prepared(c));
    const { acks, violations } = auditAcks(calls, p.socket);
    expect(violations).toEqual([]);
    expect(acks.filter((a) => a.kind === "messages").length).toBe(expectedAcks - 3);
    expect(acks.filter((a) => a.kind === "file").length).toBe(3);
    // The early write-backs of big.bin do not stand in for its last fdatasync (the audit above
    // holds that one before the acknowledgement); they are there, on the temp file, as well.
    // Its temporary name is random: it is the one renamed to files/big.bin.
    const bigTemp = calls
      .find((c) => c.name.startsWith("rename") && c.ret === "0" && /\/files\/big\.bin"/.test(c.args))
      ?.args.match(/"([^"]*\/files\/\.incoming-[^"]*)"/)?.[1];
    expect(bigTemp).toBeDefined();
    const bigSyncs = calls.filter((c) => c.name === "fdatasync" && c.fdPath === bigTemp);
    expect(bigSyncs.length).toBeGreaterThan(1);
    // The audit saw real work: segments created (with directory fsyncs) and rotated.
    const segmentCreates = calls.filter((c) => c.name === "openat" && c.args.includes("O_CREAT") && /segments\/\d+\.mcap$/.test(c.retPath ?? ""));
    const preparedMoves = calls.filter((c) => c.name.startsWith("rename") && c.ret === "0" && /\.mcap\.next", .*segments\/\d+\.mcap"/.test(c.args));
    expect(segmentCreates.length + preparedMoves.length).toBeGreaterThan(ids.length);
    console.log(`${segmentCreates.length} segments created by the batch that needed them, ${preparedMoves.length} prepared ahead and renamed into place`);
  });
  test("with concurrent writers, each acknowledgement comes after its own batch's fdatasync and its commit", async () => {
    const home2 = tempHome("ncd-strace-group");
    const logPath = join(home2, "strace.log");
    const p = instancePaths(home2);
    const traced = Bun.spawn(
      [Bun.which("strace")!, "-f", "-ttt", "-T", "-yy", "-s", "512", "-o", logPath, "-e", `trace=${TRACED}`, BINARY, "launch", "--offline"],
      { env: baseEnv(home2), cwd: home2, stdout: "ignore", stderr: "pipe" },
    );
    try {
      await waitFor("daemon under strace", () => health(p.socket), 30_000);
      // Three recordings with a writer each, and one recording that three writers share.
      const own = [
        await createRecording(p.socket, { name: "own 1" }),
        await createRecording(p.socket, { name: "own 2" }),
        await createRecording(p.socket, { name: "own 3" }),
      ];
      const shared = await createRecording(p.socket, { name: "shared" });
      const targets = [...own, shared, shared, shared];
      const BATCHES = 10;
      // Every batch has its own message count, which its acknowledgement and its batch-end record both carry.
      const countOf = (w: number, b: number) => 1 + w * BATCHES + b;
      await Promise.all(
        targets.map(async (id, w) => {
          for (let b = 0; b < BATCHES; b++) {
            const lines = Array.from({ length: countOf(w, b) }, (_, i) => ({ trace: `/w${w}`, timestamp: b + i / 1000, data: { w, b, i } }));
            const r = await postNdjson(p.socket, id, lines);
            expect(r.status).toBe(200);
          }
        }),
      );
      await call(p.socket, "POST", "/v1/shutdown");
      await traced.exited;
      const calls = parseStrace(readFileSync(logPath, "utf8"));
      // A writer's first batch names its trace: that commit creates a row and must be fsync'ed.
      const audit = auditOwnBatches(calls, p.socket, (count) => (count - 1) % BATCHES === 0);
      console.log(`${audit.batches} batches acknowledged, ${audit.segmentSyncs} segment fdatasyncs`);
      expect(audit.violations).toEqual([]);
      expect(audit.acks).toBe(targets.length * BATCHES);
      expect(audit.batches).toBe(targets.length * BATCHES);
    } finally {
      if (isAlive(traced.pid)) traced.kill("SIGKILL");
      await killAll(home2);
    }
  });
});
