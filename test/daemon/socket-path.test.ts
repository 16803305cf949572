import { expect, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { run, tempHome } from "../support/binary.ts";

test("launch refuses a socket path over the Unix limit with a message naming it, in both modes", async () => {
  const home = join(tempHome(), "h".repeat(90));
  mkdirSync(home, { recursive: true });
  for (const args of [["launch"], ["launch", "--background"]]) {
    const r = await run(args, { home });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("over the 104-byte limit of Unix sockets");
    expect(r.stderr).toContain(join(home, ".neuracore/data_daemon/daemon.sock"));
  }
});
