// keep_wakelock_while_upload: the inhibitor child lives exactly while uploads run.
import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createBandwidth } from "../../src/uploader/bandwidth.ts";
import { createFileTarget } from "../../src/uploader/file/file-target.ts";
import { createUploader } from "../../src/uploader/uploader.ts";
import { createWakelock, wakelockCommand, type Wakelock } from "../../src/uploader/wakelock.ts";
import { JsonFileStateStore } from "../support/json-file-state-store.ts";
import { makeRecording, quietLog, waitFor } from "../support/recordings.ts";

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

function warnings() {
  const list: string[] = [];
  return { list, log: { ...quietLog, warn: (m: string) => void list.push(m) } };
}

/** Uploads one 512 KiB recording at 1 MiB/s (about half a second) with the given wakelock. */
async function slowUpload(wakelock: Wakelock, during: () => Promise<void> | void) {
  const dir = mkdtempSync(join(tmpdir(), "ncd-wl-"));
  const store = new JsonFileStateStore(join(dir, "state.json"));
  makeRecording(dir, store, { id: `wl-${Math.random()}`, sizes: [512 * 1024] });
  const up = createUploader({
    store,
    target: createFileTarget({ url: pathToFileURL(join(dir, "out")).href, bandwidth: createBandwidth(1024 * 1024) }),
    log: quietLog,
    emit: () => {},
    wakelock,
  });
  up.start();
  await waitFor(() => up.progress().active > 0, 5000, "upload to start");
  await during();
  await up.whenIdle();
  await up.stop();
}

describe("wakelock", () => {
  test("the inhibitor process exists while uploading and is gone after", async () => {
    const w = warnings();
    // A stand-in with the same life cycle as systemd-inhibit ... sleep infinity.
    const lock = createWakelock({ log: w.log, command: ["sleep", "infinity"] });
    let pid: number | undefined;
    await slowUpload(lock, () => {
      pid = lock.pid;
      expect(pid).toBeNumber();
      expect(alive(pid!)).toBe(true);
    });
    expect(lock.held).toBe(false);
    await waitFor(() => !alive(pid!), 3000, "inhibitor to exit");
    expect(w.list).toEqual([]);
  });

  test("the platform's command is systemd-inhibit on Linux and caffeinate on macOS", () => {
    expect(wakelockCommand("linux")).toEqual(["systemd-inhibit", "--what=idle:sleep", "--who=nc-data-daemon", "--why=uploading", "sleep", "infinity"]);
    expect(wakelockCommand("darwin")).toEqual(["caffeinate", "-i"]);
    expect(wakelockCommand("win32")).toBeUndefined();
  });

  test("a missing command gives one warning and the uploads still complete", async () => {
    const w = warnings();
    const lock = createWakelock({ log: w.log, command: ["ncd-no-such-inhibitor"] });
    await slowUpload(lock, () => {});
    await slowUpload(lock, () => {});
    expect(w.list).toHaveLength(1);
    expect(w.list[0]).toContain("ncd-no-such-inhibitor");
  });

  test("the real command on this machine either holds the lock or warns once (no logind), never crashes", async () => {
    const w = warnings();
    const lock = createWakelock({ log: w.log, platform: process.platform });
    let seenRunning = false;
    await slowUpload(lock, async () => {
      // Until the command runs or has been given up on with a warning.
      while (!(lock.pid !== undefined && alive(lock.pid)) && w.list.length === 0) await Bun.sleep(10);
      seenRunning = w.list.length === 0;
    });
    await slowUpload(lock, () => {});
    // Without logind it exits on its own: one warning, however many uploads. Else it held.
    expect(w.list.length).toBeLessThanOrEqual(1);
    if (w.list.length === 0) expect(seenRunning).toBe(true);
    else expect(w.list[0]).toContain("keep_wakelock_while_upload");
    expect(lock.held).toBe(false);
  });
});
