// Talks to the service manager that runs here, if any: systemd (systemctl, --user for the
// user scope) or launchd (launchctl). Where none runs (a container, a chroot, a machine being
// prepared), the caller writes the file and prints these same commands for later.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { SERVICE_NAME, type Manager, type Scope } from "./spec.ts";

export interface Step {
  argv: string[];
  /** A failure of this step does not stop the sequence (e.g. stopping what is not running). */
  optional?: boolean;
}

const systemctl = (scope: Scope, ...args: string[]): Step => ({ argv: ["systemctl", ...(scope === "user" ? ["--user"] : []), ...args] });
const launchDomain = (scope: Scope, uid: number) => (scope === "user" ? `gui/${uid}` : "system");

export function installSteps(manager: Manager, scope: Scope, file: string, uid: number): Step[] {
  if (manager === "systemd")
    return [systemctl(scope, "daemon-reload"), systemctl(scope, "enable", "--now", SERVICE_NAME), systemctl(scope, "restart", SERVICE_NAME)];
  return [
    { argv: ["launchctl", "bootout", launchDomain(scope, uid), file], optional: true },
    { argv: ["launchctl", "bootstrap", launchDomain(scope, uid), file] },
  ];
}

export function uninstallSteps(manager: Manager, scope: Scope, file: string, uid: number): Step[] {
  if (manager === "systemd") return [{ ...systemctl(scope, "disable", "--now", SERVICE_NAME), optional: true }];
  return [{ argv: ["launchctl", "bootout", launchDomain(scope, uid), file], optional: true }];
}

export const afterRemoveSteps = (manager: Manager, scope: Scope): Step[] => (manager === "systemd" ? [systemctl(scope, "daemon-reload")] : []);

export const statusStep = (manager: Manager, scope: Scope, uid: number): Step =>
  manager === "systemd"
    ? systemctl(scope, "is-active", SERVICE_NAME)
    : { argv: ["launchctl", "print", `${launchDomain(scope, uid)}/com.neuracore.nc-data-daemon`] };

function runs(argv: string[]): boolean {
  try {
    return spawnSync(argv[0]!, argv.slice(1), { stdio: "ignore", timeout: 10_000 }).status === 0;
  } catch {
    return false;
  }
}

/** Whether this manager runs here and answers for this scope (sd_booted(), then a probe). */
export function managerRuns(manager: Manager, scope: Scope): boolean {
  if (manager === "launchd") return process.platform === "darwin" && runs(["launchctl", "version"]);
  if (!existsSync("/run/systemd/system")) return false;
  return runs(["systemctl", ...(scope === "user" ? ["--user"] : []), "show-environment"]);
}

export function runStep(step: Step): { ok: boolean; output: string } {
  const r = spawnSync(step.argv[0]!, step.argv.slice(1), { encoding: "utf8", timeout: 60_000 });
  return { ok: r.status === 0, output: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? r.error.message : ""}`.trim() };
}

export const shellLine = (step: Step) => step.argv.map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`)).join(" ");
