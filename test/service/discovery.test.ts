// Which daemon the clients use when a system service runs (`service install --system`). The
// system layout is moved under a scratch folder with NCD_SYSTEM_ROOT (its test override), and
// the "system daemon" is the real binary started the way the unit starts it (NCD_SYSTEM=1).
// Documented order (docs/service.md): the user's own daemon when it answers, else the system
// one; a client never starts a user daemon beside a running system daemon.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { ensureDaemon } from "../../src/client/index.ts";
import { daemonsOf, health, instancePaths, killAll, waitFor } from "../daemon/helpers.ts";
import { BINARY, baseEnv, run, runJson, tempHome } from "../support/binary.ts";
import { readableCopy, removeReadableCopies } from "../support/readable-copy.ts";

const CLIENT_DIR = resolve(import.meta.dir, "../../clients/python");
// Outside the per-run scratch folder (private to root), so that an unprivileged user can reach
// it as it reaches /run; its run/ is 0755 like the real one.
const root = mkdtempSync("/tmp/ncd-sysroot-");
chmodSync(root, 0o755);
mkdirSync(join(root, "run"), { mode: 0o755 });
const serviceHome = join(root, "var", "lib", "nc-data-daemon");
const systemSocket = join(root, "run", "nc-data-daemon", "daemon.sock");
const sysEnv = { NCD_SYSTEM: "1", NCD_SYSTEM_ROOT: root };
const homes: string[] = [];
const userHome = () => {
  const h = tempHome();
  homes.push(h);
  return h;
};
let systemPid = 0;

beforeAll(async () => {
  // systemd's StateDirectory= would make it; the daemon's commands run with it as HOME and cwd.
  mkdirSync(serviceHome, { recursive: true, mode: 0o700 });
  const r = await run(["launch", "--background", "--offline"], { home: serviceHome, env: sysEnv });
  if (r.code !== 0) throw new Error(`system daemon did not start: ${r.stderr}`);
  systemPid = (await waitFor("system daemon", () => health(systemSocket))).pid;
});
afterAll(async () => {
  await run(["stop"], { home: serviceHome, env: sysEnv });
  for (const h of homes) {
    await run(["stop"], { home: h });
    await killAll(h);
  }
  await killAll(serviceHome);
  rmSync(root, { recursive: true, force: true });
  removeReadableCopies();
});

async function python(home: string, code: string): Promise<string> {
  const proc = Bun.spawn(["python3", "-c", code], {
    env: baseEnv(home, { PYTHONPATH: CLIENT_DIR, NCD_DAEMON_BIN: BINARY, NCD_SYSTEM_ROOT: root, PYTHONDONTWRITEBYTECODE: "1" }),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, exit] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (exit !== 0) throw new Error(`python3 exited ${exit}: ${err}`);
  return out.trim();
}
const PY_SOCKET = "import nc_data_daemon as nc; c = nc.Client(); c.ensure_daemon(); print(c.socket)";

describe("the system daemon's socket", () => {
  test("is 0660 in a 0750 folder, its state 0700 under var/lib", () => {
    expect(statSync(systemSocket).mode & 0o777).toBe(0o660);
    expect(statSync(join(root, "run", "nc-data-daemon")).mode & 0o777).toBe(0o750);
    expect(statSync(serviceHome).mode & 0o777).toBe(0o700);
    expect(existsSync(join(serviceHome, "state.db"))).toBe(true);
  });
});

describe("with no user daemon, clients use the system daemon and start none", () => {
  test("the CLI records into the system daemon", async () => {
    const home = userHome();
    const r = await run(["record", "start", "--name", "via-system"], { home, env: { NCD_SYSTEM_ROOT: root } });
    expect(r.code).toBe(0);
    const id = r.stdout.trim();
    expect(daemonsOf(home)).toEqual([]);
    expect(existsSync(instancePaths(home).socket)).toBe(false);
    const shown = await runJson<{ id: string; name: string }>(["recordings", "show", id, "--json"], { home: serviceHome, env: sysEnv });
    expect(shown.json).toMatchObject({ id, name: "via-system" });
    const status = await runJson<{ pid: number; socket: string }>(["status", "--json"], { home, env: { NCD_SYSTEM_ROOT: root } });
    expect(status.json).toMatchObject({ pid: systemPid, socket: systemSocket });
  });

  test("the TypeScript SDK's ensureDaemon returns the system daemon", async () => {
    const home = userHome();
    const client = await ensureDaemon({ env: { HOME: home, NCD_SYSTEM_ROOT: root }, command: [BINARY] });
    expect(client.socket).toBe(systemSocket);
    expect((await client.health()).pid).toBe(systemPid);
    expect(daemonsOf(home)).toEqual([]);
  });

  test("the Python client uses the system daemon", async () => {
    const home = userHome();
    expect(await python(home, PY_SOCKET)).toBe(systemSocket);
    expect(daemonsOf(home)).toEqual([]);
  });

  test("an explicit --instance still gets a daemon of its own", async () => {
    const home = userHome();
    const client = await ensureDaemon({ env: { HOME: home, NCD_SYSTEM_ROOT: root }, instance: "mine", command: [BINARY] });
    expect(client.socket).toBe(instancePaths(home, "mine").socket);
    await run(["stop", "--instance", "mine"], { home });
  });
});

describe("a user outside the group nc-data-daemon", () => {
  // uid/gid 65534 (nobody): the socket's 0750 folder is closed to it, as to any non-member. It
  // runs copies of the binary and the Python client: the checkout may be private to root.
  let shared = "";
  beforeAll(() => {
    shared = readableCopy(BINARY, CLIENT_DIR);
  });
  const asNobody = async (argv: string[], home: string, extra: Record<string, string> = {}) => {
    const p = Bun.spawn(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ...argv], {
      env: { HOME: home, PATH: "/usr/bin:/bin", NCD_SYSTEM_ROOT: root, NCD_DAEMON_BIN: join(shared, "nc-data-daemon"), ...extra },
      cwd: home,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    return { code, stdout, stderr };
  };
  const nobodyHome = () => {
    const h = mkdtempSync("/tmp/ncd-nobody-");
    chownSync(h, 65534, 65534);
    homes.push(h);
    return h;
  };

  test("is told how to join the group by the CLI, and no second daemon starts", async () => {
    const home = nobodyHome();
    const r = await asNobody([join(shared, "nc-data-daemon"), "record", "start"], home);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`A system daemon listens on ${systemSocket}, but this user may not use it: add the user to the group nc-data-daemon`);
    expect(daemonsOf(home)).toEqual([]);
    expect(existsSync(instancePaths(home).socket)).toBe(false);
  });

  test("is told the same by the Python client", async () => {
    const home = nobodyHome();
    const r = await asNobody(
      ["python3", "-c", "import nc_data_daemon as nc\ntry:\n  nc.Client().ensure_daemon()\nexcept nc.DaemonError as e:\n  print(e)"],
      home,
      { PYTHONPATH: join(shared, "python"), PYTHONDONTWRITEBYTECODE: "1" },
    );
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("but this user may not use it: add the user to the group nc-data-daemon");
    expect(daemonsOf(home)).toEqual([]);
  });
});

describe("with both running, the user's own daemon wins", () => {
  let home: string;
  let userPid = 0;
  beforeAll(async () => {
    home = userHome();
    expect((await run(["launch", "--background", "--offline"], { home })).code).toBe(0);
    userPid = (await waitFor("user daemon", () => health(instancePaths(home).socket))).pid;
  });

  test("CLI, TypeScript SDK and Python client all use the user's daemon", async () => {
    const env = { NCD_SYSTEM_ROOT: root };
    expect((await runJson<{ pid: number }>(["status", "--json"], { home, env })).json.pid).toBe(userPid);
    const client = await ensureDaemon({ env: { HOME: home, ...env }, command: [BINARY] });
    expect(client.socket).toBe(instancePaths(home).socket);
    expect(await python(home, PY_SOCKET)).toBe(instancePaths(home).socket);
    const id = (await run(["record", "start", "--name", "mine"], { home, env })).stdout.trim();
    expect((await run(["recordings", "show", id], { home, env })).code).toBe(0);
    expect((await run(["recordings", "show", id], { home: serviceHome, env: sysEnv })).code).not.toBe(0);
    expect(systemPid).not.toBe(userPid);
  });
});

describe("stop with NCD_SYSTEM=1", () => {
  test("stops the system daemon in order and leaves the user's running", async () => {
    const r = await run(["stop"], { home: serviceHome, env: sysEnv });
    expect(r.stdout).toBe("Daemon stopped.\n");
    expect(existsSync(systemSocket)).toBe(false);
    expect(await health(instancePaths(homes[homes.length - 1]!).socket)).not.toBeNull();
  });
});
