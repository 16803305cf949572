// What must exist before the manager starts the service: for the system scope the account and
// group nc-data-daemon, and for both the folders that the sandbox leaves writable (systemd
// refuses to start a unit whose ReadWritePaths= folder is missing).
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { UnavailableError } from "../errors.ts";
import { SYSTEM_ACCOUNT, type ServiceSpec } from "./spec.ts";

export interface Owner {
  uid: number;
  gid: number;
}

function lookup(): Owner | null {
  const r = spawnSync("getent", ["passwd", SYSTEM_ACCOUNT], { encoding: "utf8" });
  const f = r.status === 0 ? r.stdout.split(":") : [];
  return f.length >= 4 ? { uid: Number(f[2]), gid: Number(f[3]) } : null;
}

/** The account and group nc-data-daemon, created as a system account (no login, no home of its own). */
export function ensureSystemAccount(stateDir: string): { owner: Owner; created: boolean } {
  const found = lookup();
  if (found) return { owner: found, created: false };
  if (process.platform !== "linux") {
    throw new UnavailableError(`Create the account and group ${SYSTEM_ACCOUNT} first (on macOS with dscl or System Settings), then run this again.`);
  }
  const r = spawnSync("useradd", ["--system", "--user-group", "--home-dir", stateDir, "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_ACCOUNT], {
    encoding: "utf8",
  });
  const made = lookup();
  if (r.status !== 0 || !made)
    throw new UnavailableError(`Could not create the account ${SYSTEM_ACCOUNT} (useradd: ${(r.stderr || r.error?.message || "").trim()}); run as root.`);
  return { owner: made, created: true };
}

function ensureDir(dir: string, owner: Owner | null): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (owner) chownSync(dir, owner.uid, owner.gid);
}

/** The state, logs and recordings folders, 0700, owned by the service's account. */
export function prepareFolders(spec: ServiceSpec, owner: Owner | null): void {
  for (const dir of [spec.stateDir, join(spec.stateDir, "logs"), spec.recordingsDir]) ensureDir(dir, owner);
}

/** Puts the profile where the system daemon reads it, readable by its account only. */
export function copyProfile(from: string, to: string, owner: Owner | null): void {
  ensureDir(dirname(to), owner);
  copyFileSync(from, to);
  chmodSync(to, 0o600);
  if (owner) chownSync(to, owner.uid, owner.gid);
}
