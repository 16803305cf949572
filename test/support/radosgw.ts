// A real Ceph radosgw for tests, started by ceph-rgw-up.sh in a temporary directory. One
// cluster per test file. Ceph must be installed (scripts/setup): a test file checks
// requireTool("radosgw") first and skips, or under CI=true fails, when it is not.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { S3Endpoint } from "./s3-admin.ts";

export interface RunningRadosgw extends S3Endpoint {
  dir: string;
  stop(): void;
}

const here = import.meta.dirname;

/** Starts radosgw; throws with the end of its output when it does not start. */
export function startRadosgw(): RunningRadosgw {
  const dir = mkdtempSync(join(tmpdir(), "ncd-rgw-"));
  const up = spawnSync("bash", [join(here, "ceph-rgw-up.sh"), dir], { encoding: "utf8", timeout: 300_000 });
  if (up.status !== 0) {
    spawnSync("bash", [join(here, "ceph-rgw-down.sh"), dir]);
    throw new Error(`radosgw could not be started: ${(up.stderr || up.error?.message || "").trim().split("\n").slice(-5).join(" | ")}`);
  }
  const vals = Object.fromEntries(
    up.stdout
      .split("\n")
      .map((l) => /^(\w+)=(.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!]),
  );
  return {
    endpoint: vals.endpoint!,
    accessKey: vals.access_key!,
    secretKey: vals.secret_key!,
    dir,
    stop: () => void spawnSync("bash", [join(here, "ceph-rgw-down.sh"), dir]),
  };
}
