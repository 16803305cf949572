import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { baseEnv, tempHome } from "../support/binary.ts";
import { filesGone, health, instancePaths, waitFor } from "./helpers.ts";

const repo = resolve(import.meta.dir, "../..");
const DENO = join(repo, "node_modules", ".bin", "deno");

function deno(home: string, args: string[]) {
  return Bun.spawn([DENO, "run", "-A", join(repo, "src/main.ts"), ...args], {
    env: baseEnv(home, { DENO_NO_UPDATE_CHECK: "1" }),
    cwd: repo,
    stdout: "pipe",
    stderr: "pipe",
  });
}

describe("under Deno", () => {
  test.skipIf(!existsSync(DENO))(
    "the same source launches, answers health, status and its generated OpenAPI document, and stops cleanly",
    async () => {
      const home = tempHome();
      const p = instancePaths(home);
      const daemon = deno(home, ["launch"]);
      try {
        const h = await waitFor("health", () => health(p.socket), 30_000);
        expect(h.pid).toBe(daemon.pid);
        const status = deno(home, ["status", "--json"]);
        expect(await status.exited).toBe(0);
        expect(JSON.parse(await new Response(status.stdout).text())).toMatchObject({ running: true, pid: daemon.pid });
        // Generated on request by hono-openapi, which loads the valibot converter at run time.
        const doc = (await (await fetch("http://localhost/v1/openapi.json", { unix: p.socket } as RequestInit)).json()) as { paths: Record<string, any> };
        expect(doc.paths["/v1/recordings"].post.requestBody.content["application/json"].schema.properties.traces.type).toBe("array");
        const stop = deno(home, ["stop"]);
        expect(await stop.exited).toBe(0);
        expect(await new Response(stop.stdout).text()).toBe("Daemon stopped.\n");
        expect(await daemon.exited).toBe(0);
        expect(await new Response(daemon.stdout).text()).toContain("Daemon stopped.");
        expect(filesGone(p)).toBe(true);
      } finally {
        daemon.kill("SIGKILL");
      }
    },
    60_000,
  );

  // Deno's UDP socket does not report the address a connect bound: the link comes from Linux's
  // routing tables there, and must be the one Bun's socket finds.
  test.skipIf(!existsSync(DENO) || process.platform !== "linux")(
    "finds the same upload link as Bun for the same targets",
    async () => {
      const targets = ["127.0.0.1", "10.9.9.9", "192.0.2.77"];
      const script = `import { findLink } from ${JSON.stringify(`file://${join(repo, "src/uploader/link.ts")}`)};
      const out = [];
      for (const host of ${JSON.stringify(targets)}) out.push(await findLink({ host, port: 443 }, ["wwan*"]));
      console.log(JSON.stringify(out));`;
      const p = Bun.spawn([DENO, "eval", script], { env: { ...process.env, DENO_NO_UPDATE_CHECK: "1" }, stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      expect(code, err).toBe(0);
      const { findLink } = await import("../../src/uploader/link.ts");
      const bun = [];
      for (const host of targets) bun.push(await findLink({ host, port: 443 }, ["wwan*"]));
      expect(JSON.parse(out)).toEqual(bun);
      expect(bun.find((v) => v.target === "127.0.0.1")).toMatchObject({ interface: "lo", unknown: null });
    },
    60_000,
  );
});
