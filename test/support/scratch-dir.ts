// Preloaded by `bun test` (bunfig.toml): every test's scratch files go under one directory per
// run, removed when the run ends (an afterAll here runs once, after the last file; bun test
// fires no process "exit" for a preload). The suite starts daemons, object stores and file
// systems that write about 300 MB in all, and a CI machine running it day after day must not
// keep them.
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = mkdtempSync(join(tmpdir(), "ncd-run-"));
process.env.TMPDIR = root;
afterAll(() => {
  try {
    rmSync(root, { recursive: true, force: true });
  } catch (err) {
    // A file system a test left mounted; say so rather than fail the run at its very end.
    console.error(`could not remove the test scratch directory ${root}: ${(err as Error).message}`);
  }
});
