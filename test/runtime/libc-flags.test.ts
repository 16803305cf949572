// The open(2) flags the daemon passes to libc and to node:fs are the platform's own. The
// runtime's fs.constants come from the C headers it was built against, so on every machine the
// tests run on (and under qemu for arm64, whose O_DIRECTORY and O_NOFOLLOW differ from x86-64's:
// test/release/arm64-smoke.test.ts) each flag must equal the runtime's.
import { expect, test } from "bun:test";
import { constants } from "node:fs";
import { O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from "../../src/runtime/libc-flags.ts";

test("every open(2) flag equals the runtime's own value on this platform and architecture", () => {
  const ours = { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_NONBLOCK, O_NOFOLLOW, O_DIRECTORY };
  for (const [name, value] of Object.entries(ours)) expect({ name, value }).toEqual({ name, value: (constants as Record<string, number>)[name]! });
});
