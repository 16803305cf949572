// A wall clock that a test steps while the process under it runs (NTP correcting a robot that
// booted with a stale clock). libfaketime (Debian package `faketime`) is preloaded; it reads
// FAKETIME_TIMESTAMP_FILE again on every call (FAKETIME_NO_CACHE=1), and
// FAKETIME_DONT_FAKE_MONOTONIC=1 leaves CLOCK_MONOTONIC alone: only the wall clock steps.
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { requireTool } from "./tools.ts";

const LIBS = ["x86_64-linux-gnu", "aarch64-linux-gnu", "arm-linux-gnueabihf", "riscv64-linux-gnu"].map((a) => `/usr/lib/${a}/faketime/libfaketime.so.1`);

/** The library's path, or undefined when it is missing (its tests are then skipped). */
export const libfaketime = requireTool("faketime") === undefined ? [...LIBS, "/usr/lib/faketime/libfaketime.so.1"].find(existsSync) : undefined;

/** The environment that puts a process under a steppable wall clock (its offset file in
 * `dir`), and `step`, which sets that clock from now on: an offset such as "+1d", or a time such
 * as "@1970-01-02 00:00:00". */
export function steppedClock(dir: string): { env: Record<string, string>; step: (offset: string) => void } {
  const file = join(dir, "faketime");
  const step = (offset: string) => writeFileSync(file, `${offset}\n`);
  step("+0");
  return { env: { LD_PRELOAD: libfaketime!, FAKETIME_TIMESTAMP_FILE: file, FAKETIME_NO_CACHE: "1", FAKETIME_DONT_FAKE_MONOTONIC: "1" }, step };
}
