// doctor's question to a file:// target: the folder exists and takes a file (written and removed).
import { randomBytes } from "node:crypto";
import { accessSync, constants, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { TargetProbe } from "../probe-types.ts";

export function probeFile(url: string): TargetProbe {
  const dir = resolve(fileURLToPath(url));
  try {
    if (!statSync(dir).isDirectory()) return { reachable: true, accepted: false, detail: `${dir} is not a folder`, reason: "ENOTDIR" };
    accessSync(dir, constants.W_OK);
    // access() says yes to root everywhere; a real write tells a read-only mount too.
    const probe = join(dir, `.ncd-doctor-${randomBytes(6).toString("hex")}`);
    writeFileSync(probe, "");
    rmSync(probe, { force: true });
    return { reachable: true, accepted: true, detail: `${dir} takes new files` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "error";
    return { reachable: code !== "ENOENT", accepted: false, detail: `${dir}: ${(err as Error).message}`, reason: code };
  }
}
