// The TypeScript SDK under Deno: a Deno script auto-starts the real daemon (the compiled
// binary, or the same source under Deno), records messages, binary frames, an image and a
// file, and stops; the test reads them back from the MCAP segments and the files on disk.
import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { killAll, run } from "../daemon/helpers.ts";
import { readStream } from "../recordings/helpers.ts";
import { BINARY, baseEnv, tempHome } from "../support/binary.ts";

const repo = resolve(import.meta.dir, "../..");
const DENO = join(repo, "node_modules", ".bin", "deno");
const homes: string[] = [];
afterAll(async () => {
  for (const home of homes) {
    await run(["stop"], { home });
    await killAll(home);
  }
});

describe("the SDK under Deno", () => {
  const daemons: [string, string[]][] = [
    ["the compiled binary", [BINARY]],
    ["the daemon under Deno", [DENO, "run", "-A", join(repo, "src/main.ts")]],
  ];
  test.skipIf(!existsSync(DENO)).each(daemons)(
    "auto-starts %s and records messages, frames, an image and a file that read back intact",
    async (_, command) => {
      const home = tempHome("ncd-deno-sdk");
      homes.push(home);
      const attachment = join(home, "calib.yaml");
      writeFileSync(attachment, "fx: 600.5\nfy: 601.25\n");
      const env = baseEnv(home);
      const script = join(import.meta.dir, "fixtures", "deno-record.ts");
      const p = Bun.spawn([DENO, "run", "-A", script, JSON.stringify(env), JSON.stringify(command), attachment], {
        env: { ...env, DENO_NO_UPDATE_CHECK: "1" },
        cwd: repo,
        stdout: "pipe",
        stderr: "pipe",
      });
      const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
      expect(err).not.toMatch(/error/i);
      expect(code).toBe(0);
      const r = JSON.parse(out.trim().split("\n").at(-1)!);
      expect(r.state).toMatch(/^(finalizing|pending_upload)$/);
      const segDir = join(r.store, r.id, "segments");
      const msgs = readdirSync(segDir)
        .filter((f) => f.endsWith(".mcap"))
        .sort()
        .flatMap((f) => readStream(join(segDir, f)).messages);
      const joints = msgs.filter((m) => m.topic === "/joints").map((m) => JSON.parse(new TextDecoder().decode(m.data)));
      expect(joints).toEqual(Array.from({ length: 250 }, (_, i) => ({ i, q: [i / 7, i * 2] })));
      const camera = msgs.filter((m) => m.topic === "/camera");
      expect(camera.map((m) => [...m.data])).toEqual([[1, 2, 3, 250]]);
      expect(msgs.filter((m) => m.topic === "/exact").map((m) => new TextDecoder().decode(m.data))).toEqual([
        '{"stamp_ns":1700000000123456789,"seq":18446744073709551615}',
      ]);
      // One time per image: its stamp and its publish time are the same nanoseconds.
      const image = msgs.find((m) => m.topic === "/image")!;
      expect(JSON.parse(new TextDecoder().decode(image.data)).timestamp).toEqual({ sec: 1700000400, nsec: 33000000 });
      expect(image.publishTime).toBe(1700000400033000000n);
      const stored = readFileSync(join(r.store, r.id, "files", "calib.yaml"));
      expect(createHash("sha256").update(stored).digest("hex")).toBe(createHash("sha256").update(readFileSync(attachment)).digest("hex"));
    },
    90_000,
  );
});
