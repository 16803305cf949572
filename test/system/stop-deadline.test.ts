// Shutdown stays bounded when an upload worker is stuck in I/O: a file:// target on a file
// system whose writes hang (the lazy FUSE file system told to stall, as a disk or network
// mount that stopped answering does). SIGTERM must still end the daemon before the service
// manager's TimeoutStopSec, and the log must say what it left behind and why that is safe.
import { afterAll, describe, expect, test } from "bun:test";
import { requireTool } from "../support/tools.ts";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { renderSystemdUnit } from "../../src/service/systemd.ts";
import { instancePaths, isAlive, waitFor } from "../daemon/helpers.ts";
import { mountLazyFs, type LazyFs } from "../support/lazy-fs.ts";
import { makeRecording, startDaemon, waitState, type Daemon } from "../system-uploads/helpers.ts";

let fs: LazyFs | undefined;
let d: Daemon | undefined;
const roots: string[] = [];
afterAll(async () => {
  await d?.close();
  await fs?.unmount();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const timeoutStopSec = () =>
  Number(/TimeoutStopSec=(\d+)/.exec(renderSystemdUnit({ scope: "user", command: ["/bin/true"], profile: null, stateDir: "/s", recordingsDir: "/r" }))![1]);

describe.skipIf(requireTool("fuse") !== undefined || process.getuid?.() !== 0)("a worker stuck in I/O", () => {
  test("SIGTERM while an upload's write hangs: the daemon exits within TimeoutStopSec and logs that it left the upload", async () => {
    const root = mkdtempSync("/tmp/ncd-stall-");
    roots.push(root);
    fs = await mountLazyFs(join(root, "backing"), join(root, "mnt"));
    d = await startDaemon({ uploadUrl: pathToFileURL(join(fs.mount, "target")).href, args: ["--offline"] });
    const rec = await makeRecording(d, { messages: 50 });
    const { stalled } = fs.stallWrites();
    await d.api("PATCH", "/v1/config", { offline: false });
    await stalled; // the upload's worker is inside write(2) and will not come back
    expect((await d.api("GET", `/v1/recordings/${rec.id}`)).state).toBe("uploading");

    const pid = d.pid();
    const sent = performance.now();
    process.kill(pid, "SIGTERM");
    await waitFor("the daemon to exit after SIGTERM", () => !isAlive(pid), 120_000);
    expect(performance.now() - sent).toBeLessThan(timeoutStopSec() * 1000);
    const log = readFileSync(instancePaths(d.home).logFile, "utf8");
    expect(log).toContain("Stopping: uploads did not finish within 30 s (stuck in I/O?); exiting without it.");
    // Nothing acknowledged was at risk: after a restart the recording is still there, waiting to upload.
    await fs.unmount();
    fs = undefined;
    await d.relaunch();
    await waitState(d, rec.id, ["pending_upload", "uploading", "uploaded"]);
  }, 150_000);
});
