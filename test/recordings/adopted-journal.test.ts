// The journal of versions adopted from watched folders (src/recordings/watch/adopted-journal.ts):
// appended durably, 0600, and read back whole past a record torn by a crash or a full disk.
import { afterAll, describe, expect, test } from "bun:test";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ADOPTED_JOURNAL, journalAdopted, readAdopted, writeAdoptedJournal } from "../../src/recordings/watch/adopted-journal.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const root = () => {
  const d = mkdtempSync(join(tmpdir(), "ncd-journal-"));
  dirs.push(d);
  return d;
};
const version = (i: number) => ({
  path: `/data/in/scan-${i}.bin`,
  kind: "file",
  size: 1000 + i,
  mtime_ns: `17000000000000000${i}`,
  sha256: String(i).repeat(64).slice(0, 64),
  recording_id: `rec-${i}`,
});

describe("the adopted-versions journal", () => {
  test("appends each version and reads them back in order, in a file only its owner can read", () => {
    const dir = root();
    for (const i of [1, 2, 3]) journalAdopted(dir, version(i));
    expect(readAdopted(dir)).toEqual([1, 2, 3].map(version));
    expect(statSync(join(dir, ADOPTED_JOURNAL)).mode & 0o777).toBe(0o600);
  });

  test("a record torn part-way loses only itself: the versions before and after it read whole", () => {
    const dir = root();
    journalAdopted(dir, version(1));
    // A crash in the middle of an append: half a record, no end.
    appendFileSync(join(dir, ADOPTED_JOURNAL), `\n${JSON.stringify(version(2)).slice(0, 40)}`);
    journalAdopted(dir, version(3));
    expect(readAdopted(dir).map((v) => v.recording_id)).toEqual(["rec-1", "rec-3"]);
  });

  test("a line that is not an adopted version (no sha256, another shape) is skipped", () => {
    const dir = root();
    writeFileSync(join(dir, ADOPTED_JOURNAL), `\n{"path":"/x"}\n[1,2]\n${JSON.stringify({ ...version(4), sha256: "not-hex" })}\n${JSON.stringify(version(5))}`);
    expect(readAdopted(dir)).toEqual([version(5)]);
  });

  test("written anew from the database's rows, it reads back the same", () => {
    const dir = root();
    writeAdoptedJournal(dir, [version(7), version(8)]);
    expect(readAdopted(dir)).toEqual([version(7), version(8)]);
    expect(statSync(join(dir, ADOPTED_JOURNAL)).mode & 0o777).toBe(0o600);
  });

  test("a link planted at its name is not written through", () => {
    const dir = root();
    const elsewhere = join(dir, "elsewhere");
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, "victim"), "untouched");
    symlinkSync(join(elsewhere, "victim"), join(dir, ADOPTED_JOURNAL));
    expect(() => journalAdopted(dir, version(1))).toThrow();
    expect(readFileSync(join(elsewhere, "victim"), "utf8")).toBe("untouched");
  });

  test("no journal reads as no versions", () => {
    expect(readAdopted(root())).toEqual([]);
  });
});
