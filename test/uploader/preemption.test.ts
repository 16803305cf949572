// Preemption between parts, on plain data: who gives its worker back, and who waits.
import { describe, expect, test } from "bun:test";
import { createPreemption } from "../../src/uploader/preemption.ts";

const HIGH = 0;
const LOW = 2;
const live = () => new AbortController().signal;

describe("preemption", () => {
  test("with nothing more urgent waiting, every job goes on at its part boundaries", async () => {
    const p = createPreemption();
    p.update(new Map([[LOW, 30]]), new Map([["a", LOW]]));
    expect(await p.mayContinue("a", LOW, live())).toBe(true);
  });

  test("one waiting high job takes the worker of the first low job at a boundary; the others wait until it has its first answer", async () => {
    const p = createPreemption();
    const active = new Map([
      ["a", LOW],
      ["b", LOW],
    ]);
    expect(p.update(new Map([[HIGH, 1]]), active)).toBe(HIGH);
    expect(await p.mayContinue("a", LOW, live())).toBe(false); // a gives way
    let bWent: boolean | undefined;
    const b = p.mayContinue("b", LOW, live()).then((go) => (bWent = go));
    await Promise.resolve();
    expect(bWent).toBeUndefined(); // b holds: the high job has no worker yet
    expect(await p.mayContinue("a", LOW, live())).toBe(false); // a's other lanes stop too
    // a's worker went to the high job: nothing waits any more, but the high job has had no answer.
    active.delete("a");
    active.set("h", HIGH);
    p.starting("h", HIGH);
    expect(p.update(new Map(), active)).toBeUndefined();
    await Promise.resolve();
    expect(bWent).toBeUndefined();
    p.started("h");
    expect(await b).toBe(true);
  });

  test("a wait at a boundary ends when the job is aborted", async () => {
    const p = createPreemption();
    p.update(
      new Map([[HIGH, 1]]),
      new Map([
        ["a", LOW],
        ["b", LOW],
      ]),
    );
    await p.mayContinue("a", LOW, live());
    const ctl = new AbortController();
    const b = p.mayContinue("b", LOW, ctl.signal);
    ctl.abort(new Error("stopping"));
    await expect(b).rejects.toThrow("stopping");
  });
});
