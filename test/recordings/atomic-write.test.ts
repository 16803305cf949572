// The store's own temporary files (recording.json's, manifest.json's, seal notes') have a random
// name created O_EXCL|O_NOFOLLOW|O_NONBLOCK, so nothing planted ahead at a predictable name is
// written through; what a crash leaves of them is swept at the next start, never a user's file.
import { afterAll, expect, test } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sweepAtomicTemps, writeFileAtomic } from "../../src/recordings/disk/durable-fs.ts";

const dir = mkdtempSync(join(tmpdir(), "ncd-atomic-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("an atomic write leaves only its file, 0600, and a link at the old fixed temporary name is never written through", () => {
  const victim = join(dir, "victim");
  writeFileSync(victim, "untouched");
  symlinkSync(victim, join(dir, "recording.json.tmp"));
  writeFileAtomic(join(dir, "recording.json"), '{"ok":true}\n');
  expect(readFileSync(join(dir, "recording.json"), "utf8")).toBe('{"ok":true}\n');
  expect(lstatSync(join(dir, "recording.json")).mode & 0o777).toBe(0o600);
  expect(readFileSync(victim, "utf8")).toBe("untouched");
  expect(readdirSync(dir).sort()).toEqual(["recording.json", "recording.json.tmp", "victim"]);
});

test("the sweep removes a crash's temporary files by their own names only, never a user's file", () => {
  const rec = join(dir, "rec");
  mkdirSync(join(rec, "files"), { recursive: true });
  for (const f of ["recording.json.0123456789ab.tmp", "manifest.json.abcdef012345.tmp", "other.json.0123456789ab.tmp"]) writeFileSync(join(rec, f), "x");
  writeFileSync(join(rec, "files", ".calib.yaml.age.json.0123456789ab.tmp"), "x");
  writeFileSync(join(rec, "files", "data.0123456789ab.tmp"), "a user's file");
  expect(sweepAtomicTemps(rec, (n) => n === "recording.json" || n === "manifest.json")).toBe(2);
  expect(sweepAtomicTemps(join(rec, "files"), (n) => n.startsWith("."))).toBe(1);
  expect(readdirSync(rec).sort()).toEqual(["files", "other.json.0123456789ab.tmp"]);
  expect(readdirSync(join(rec, "files"))).toEqual(["data.0123456789ab.tmp"]);
});
