// `service install|uninstall|status`: run the daemon under systemd (Linux) or launchd (macOS),
// for this user or (--system) for the whole machine. `install` and `uninstall` at the top
// level are the reference's names for the same two commands.
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { createClient } from "../../client/client.ts";
import { homeOf, resolvePaths, resolveSystemPaths } from "../../config/index.ts";
import { EXIT, UnavailableError, UsageError } from "../../errors.ts";
import { getRuntime } from "../../runtime/index.ts";
import { renderLaunchdPlist } from "../../service/launchd.ts";
import { afterRemoveSteps, installSteps, managerRuns, runStep, shellLine, statusStep, uninstallSteps, type Step } from "../../service/manager.ts";
import { copyProfile, ensureSystemAccount, prepareFolders } from "../../service/prepare.ts";
import { resolveService } from "../../service/resolve.ts";
import { definitionPath, type Manager, type Scope } from "../../service/spec.ts";
import { assertUploadDirVisible, inHome, renderSystemdUnit } from "../../service/systemd.ts";
import { jsonArg } from "../args.ts";
import { defineCli } from "../command.ts";
import type { CliContext } from "../context.ts";
import { printJson } from "../output.ts";

const scopeArgs = {
  user: { type: "boolean", description: "For this user (the default): ~/.config/systemd/user or ~/Library/LaunchAgents." },
  system: {
    type: "boolean",
    description: "For the machine: account nc-data-daemon, state in /var/lib/nc-data-daemon, socket in /run/nc-data-daemon/ (run as root).",
  },
  manager: { type: "string", description: "systemd or launchd (default: launchd on macOS, else systemd).", valueHint: "systemd|launchd" },
} as const;

function scopeOf(a: { user?: boolean; system?: boolean }): Scope {
  if (a.user && a.system) throw new UsageError("Give --user or --system, not both.");
  return a.system ? "system" : "user";
}

function managerOf(a: { manager?: string }): Manager {
  const m = a.manager ?? (process.platform === "darwin" ? "launchd" : "systemd");
  if (m !== "systemd" && m !== "launchd") throw new UsageError(`--manager "${m}": use systemd or launchd.`);
  return m;
}

/** NCD_SYSTEM_ROOT (tests only) moves the system paths, /etc included, under a scratch folder. */
const systemRootOf = (env: Record<string, string | undefined>) => env.NCD_SYSTEM_ROOT?.trim() || "/";
const uid = () => process.getuid?.() ?? 0;

function runOrShow(ctx: CliContext, manager: Manager, scope: Scope, steps: Step[], testRoot: boolean): boolean {
  if (!testRoot && managerRuns(manager, scope)) {
    for (const step of steps) {
      const r = runStep(step);
      if (!r.ok && !step.optional) throw new UnavailableError(`${shellLine(step)} failed: ${r.output || "no output"}`);
    }
    return true;
  }
  const what = manager === "systemd" ? (scope === "user" ? "no systemd user manager runs for this user" : "systemd is not running") : "launchd does not answer";
  ctx.out(
    `No service manager here (${what}), so nothing was started or stopped. Where it runs, do it with:\n${steps.map((s) => `  ${shellLine(s)}`).join("\n")}\n`,
  );
  return false;
}

const install = defineCli({
  meta: { name: "install", description: "Install the daemon as a service that starts at boot (or login) and restarts after a failure." },
  args: {
    ...scopeArgs,
    profile: { type: "string", description: "Profile the service launches with.", valueHint: "name" },
    print: { type: "boolean", description: "Show the unit (or plist) without writing anything." },
  },
  examples: [
    "nc-data-daemon service install --print",
    "nc-data-daemon service install --profile robot",
    "sudo nc-data-daemon service install --system --profile robot",
  ],
  run: ({ args, data }) => installService(args, data),
});

async function installService(a: { user?: boolean; system?: boolean; manager?: string; profile?: string; print?: boolean }, ctx: CliContext): Promise<number> {
  const scope = scopeOf(a);
  const manager = managerOf(a);
  const runtime = await getRuntime();
  const { spec, profileFile, profileSource } = await resolveService(scope, a.profile, runtime.selfCommand(), ctx.env);
  if (manager === "systemd") assertUploadDirVisible(spec);
  const text = manager === "systemd" ? renderSystemdUnit(spec) : renderLaunchdPlist(spec);
  if (a.print) {
    ctx.out(text);
    return 0;
  }
  const root = systemRootOf(ctx.env);
  const testRoot = root !== "/";
  const file = definitionPath(manager, scope, homeOf(ctx.env), root);
  let owner = null;
  if (scope === "system") {
    if (testRoot) ctx.out(`NCD_SYSTEM_ROOT is set (tests): the account nc-data-daemon is neither created nor used.\n`);
    else {
      const account = ensureSystemAccount(spec.stateDir);
      owner = account.owner;
      if (account.created)
        ctx.out("Created the system account and group nc-data-daemon; add users who may record to the group: sudo usermod -aG nc-data-daemon USER\n");
    }
  }
  if (scope === "system" && inHome(spec.command[0]!))
    ctx.out(
      `Note: the service runs ${spec.command[0]}, inside a home folder, which the account nc-data-daemon may not be able to read; installing the binary to /usr/local/bin (sudo sh install.sh) avoids that.\n`,
    );
  prepareFolders(spec, owner);
  if (profileFile && profileSource && profileSource !== profileFile) {
    copyProfile(profileSource, profileFile, owner);
    ctx.out(`Copied profile ${profileSource} to ${profileFile} for the system service.\n`);
  }
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text, { mode: 0o644 });
  ctx.out(`Wrote ${file}.\n`);
  // A daemon started by hand holds the instance: the service's would exit "already running" and be restarted in a loop.
  const byHand =
    scope === "user"
      ? await createClient({ socket: resolvePaths(homeOf(ctx.env), null).socket, timeoutMs: 2000 })
          .health()
          .catch(() => null)
      : null;
  if (byHand) ctx.out(`A daemon started by hand runs (pid=${byHand.pid}); stop it (nc-data-daemon stop) so that the service's daemon can start.\n`);
  if (runOrShow(ctx, manager, scope, installSteps(manager, scope, file, uid()), testRoot))
    ctx.out(`Service nc-data-daemon enabled and started (${scope}). Check it with: nc-data-daemon service status${scope === "system" ? " --system" : ""}\n`);
  return 0;
}

const uninstall = defineCli({
  meta: { name: "uninstall", description: "Stop the service and remove its unit (or plist); recordings and state stay where they are." },
  args: { ...scopeArgs },
  examples: ["nc-data-daemon service uninstall", "sudo nc-data-daemon service uninstall --system"],
  run({ args: a, data: ctx }) {
    const scope = scopeOf(a);
    const manager = managerOf(a);
    const root = systemRootOf(ctx.env);
    const file = definitionPath(manager, scope, homeOf(ctx.env), root);
    const state = scope === "system" ? resolveSystemPaths(ctx.env).root : resolvePaths(homeOf(ctx.env), null).root;
    if (!existsSync(file)) {
      ctx.out(`No ${scope} service is installed (${file} does not exist).\n`);
      return 0;
    }
    runOrShow(ctx, manager, scope, uninstallSteps(manager, scope, file, uid()), root !== "/");
    rmSync(file, { force: true });
    if (root === "/" && managerRuns(manager, scope)) for (const s of afterRemoveSteps(manager, scope)) runStep(s);
    ctx.out(`Removed ${file}. Recordings and state were left in place (${state} and the recordings folder).\n`);
    return 0;
  },
});

const status = defineCli({
  meta: { name: "status", description: "Is the service installed, does its manager run it, does the daemon answer (exit 3 when not running)." },
  args: { ...scopeArgs, ...jsonArg },
  async run({ args: a, data: ctx }) {
    const scope = scopeOf(a);
    const manager = managerOf(a);
    const root = systemRootOf(ctx.env);
    const file = definitionPath(manager, scope, homeOf(ctx.env), root);
    const socket = scope === "system" ? resolveSystemPaths(ctx.env).socket : resolvePaths(homeOf(ctx.env), null).socket;
    const runs = root === "/" && managerRuns(manager, scope);
    const active = runs ? runStep(statusStep(manager, scope, uid())).ok : null;
    const health = await createClient({ socket, timeoutMs: 3000 })
      .health()
      .catch(() => null);
    const report = {
      scope,
      manager,
      file,
      installed: existsSync(file),
      manager_running: runs,
      active,
      daemon: { running: health !== null, pid: health?.pid ?? null, socket },
    };
    if (a.json) printJson(ctx, report);
    else {
      const svc = !report.installed
        ? "not installed"
        : active === null
          ? `installed; ${manager} is not running here`
          : active
            ? "installed and active"
            : "installed, not active";
      ctx.out(`Service (${scope}, ${manager}): ${svc}\n  file    ${file}\n  daemon  ${health ? `running (pid=${health.pid})` : "not running"} on ${socket}\n`);
    }
    return health ? EXIT.ok : EXIT.notRunning;
  },
});

const command = defineCli({
  meta: { name: "service", description: "Run the daemon as a systemd or launchd service: install, uninstall, status." },
  subCommands: { install, uninstall, status },
});

export const installAlias = install;
export const uninstallAlias = uninstall;
export default command;
