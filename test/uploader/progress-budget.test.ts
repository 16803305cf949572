// The per-object budget counts what goes on the wire from the target's own progress figure:
// rises are bytes sent, falls (a rewind, a resent part) are not, and a resume starts from what
// the target already holds. Attempts count only while they store nothing new.
import { expect, test } from "bun:test";
import { ProgressBudget } from "../../src/uploader/progress-budget.ts";

const limits = { maxAttempts: 3, bytesFactor: 3, minBudgetBytes: 10 };

test("a target that rewinds to 0 uses up 3x the object's size, and no more is allowed", () => {
  const b = new ProgressBudget(limits);
  b.begin("o", 100, 0);
  for (let round = 0; round < 3; round++) {
    expect(b.progressed("o", 100)).toBeUndefined();
    expect(b.progressed("o", 0)).toBeUndefined(); // the rewind
  }
  expect(b.wire("o")).toBe(300);
  expect(b.progressed("o", 1)).toEqual({ wire: 301, budget: 300, kept: 0 });
});

test("bytes the target held before a resume are not counted as sent", () => {
  const b = new ProgressBudget(limits);
  b.begin("o", 100, 60);
  b.progressed("o", 60);
  b.progressed("o", 100);
  expect(b.wire("o")).toBe(40);
});

test("attempts count while nothing new is stored; one that stores more starts the count again", () => {
  const b = new ProgressBudget(limits);
  b.begin("o", 100, 0);
  expect(b.failed("o", 0)).toBe(1);
  expect(b.failed("o", 0)).toBe(2);
  expect(b.failed("o", 50)).toBe(0);
  expect(b.failed("o", 50)).toBe(1);
  expect(b.exhausted(b.failed("o", 40))).toBe(false);
  expect(b.exhausted(b.failed("o", 50))).toBe(true);
  b.end("o");
  expect(b.wire("o")).toBe(0);
});

test("an attempt lost in transit (a dropped connection, a 5xx) is refunded; bytes the target confirmed and lost are not", () => {
  const b = new ProgressBudget(limits);
  for (let attempt = 0; attempt < 5; attempt++) {
    b.begin("o", 100, 0);
    b.progressed("o", 100); // the whole single PUT, then a 503
    b.refundAttempt("o");
  }
  expect(b.wire("o")).toBe(0);
  b.begin("o", 100, 0);
  b.progressed("o", 100);
  b.progressed("o", 0); // confirmed, then rewound within the attempt
  b.progressed("o", 100);
  expect(b.wire("o")).toBe(200);
});
