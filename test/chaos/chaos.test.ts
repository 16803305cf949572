// The short chaos run of CI (see chaos.ts): kills, power cuts, a full disk and network faults
// while writer processes record; nothing acknowledged may be lost, corrupted or duplicated.
// CHAOS_SECONDS bounds the time spent striking (default 40; the drain and checks come after),
// CHAOS_ROUNDS the number of strikes.
import { describe, expect, test } from "bun:test";
import { requireTool, skipNote } from "../support/tools.ts";
import { formatFigures, runChaos } from "./chaos.ts";

const noFuse = requireTool("fuse");
describe.skipIf(noFuse !== undefined)(`chaos${skipNote(noFuse)}`, () => {
  test("kills, power cuts, a full disk and network faults: every acknowledged item arrives in the target once, byte-identical", async () => {
    const f = await runChaos({ rounds: Number(process.env.CHAOS_ROUNDS ?? 1000), seconds: Number(process.env.CHAOS_SECONDS ?? 40) });
    console.log(formatFigures(f));
    expect(f.problems).toEqual([]);
    expect({ lost: f.lost, corrupted: f.corrupted, duplicated: f.duplicated }).toEqual({ lost: 0, corrupted: 0, duplicated: 0 });
    expect(f.kills).toBeGreaterThan(0);
    expect(f.powerCuts).toBeGreaterThan(0);
    expect(f.diskFulls).toBeGreaterThan(0);
    expect(f.ackedMessages + f.ackedFiles).toBeGreaterThan(0);
    expect(f.bytesVerified).toBeGreaterThan(0);
  }, 900_000);
});
