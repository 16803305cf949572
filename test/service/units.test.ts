// `service install|uninstall|status` through the real binary: the unit passes systemd's own
// checker (systemd-analyze verify, from Debian's systemd package), the plist parses as a
// property list (python3's plistlib), and install/uninstall write and remove the file where no
// service manager runs (as in this container), saying so and printing the commands.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, run, tempHome } from "../support/binary.ts";
import { requireTool, skipNote } from "../support/tools.ts";

// The tests that run systemd-analyze verify.
const noSystemd = requireTool("systemd-analyze");
const verifiedTest = test.skipIf(noSystemd !== undefined);

const dirs: string[] = [];
const scratch = () => {
  const d = tempHome("ncd-svc");
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function withProfile(home: string, name: string, yaml: string) {
  const dir = join(home, ".neuracore", "data_daemon", "profiles");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, `${name}.yaml`), yaml, { mode: 0o600 });
}

function verify(unitText: string): { code: number; output: string } {
  const dir = scratch();
  const file = join(dir, "nc-data-daemon.service");
  writeFileSync(file, unitText);
  const r = Bun.spawnSync(["systemd-analyze", "verify", file]);
  return { code: r.exitCode, output: r.stdout.toString() + r.stderr.toString() };
}

function parsePlist(text: string): Record<string, unknown> {
  const r = Bun.spawnSync(["python3", "-c", "import json,plistlib,sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))"], {
    stdin: new TextEncoder().encode(text),
  });
  if (r.exitCode !== 0) throw new Error(`plistlib refused it: ${r.stderr.toString()}`);
  return JSON.parse(r.stdout.toString()) as Record<string, unknown>;
}

const directives = (unit: string) => unit.split("\n").filter((l) => /^[A-Za-z]+=/.test(l));

describe("service install --print (systemd)", () => {
  verifiedTest(
    `the user unit runs this binary with the profile, restarts on failure, is sandboxed, and systemd-analyze verify accepts it${skipNote(noSystemd)}`,
    async () => {
      const home = scratch();
      const records = join(home, "data", "records");
      withProfile(home, "robot", `path_to_store_record: ${records}\n`);
      const r = await run(["service", "install", "--profile", "robot", "--print"], { home });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const d = directives(r.stdout);
      expect(d).toContain(`ExecStart=${BINARY} launch --profile robot`);
      for (const line of ["Type=simple", "Restart=on-failure", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "WantedBy=default.target"])
        expect(d).toContain(line);
      expect(d).toContain(`ReadWritePaths=${join(home, ".neuracore", "data_daemon")} ${records}`);
      expect(verify(r.stdout)).toEqual({ code: 0, output: "" });
      // --print writes nothing.
      expect(existsSync(join(home, ".config"))).toBe(false);
      expect(existsSync(records)).toBe(false);
    },
  );

  verifiedTest(`the system unit runs as nc-data-daemon with state in /var/lib and the socket folder in /run, and verifies${skipNote(noSystemd)}`, async () => {
    const home = scratch();
    const r = await run(["service", "install", "--system", "--print"], { home });
    expect(r.code).toBe(0);
    const d = directives(r.stdout);
    for (const line of [
      "User=nc-data-daemon",
      "Group=nc-data-daemon",
      "Environment=NCD_SYSTEM=1",
      "StateDirectory=nc-data-daemon",
      "RuntimeDirectory=nc-data-daemon",
      "RuntimeDirectoryMode=0750",
      "ReadWritePaths=/var/lib/nc-data-daemon",
      "ProtectSystem=strict",
      "ProtectHome=yes",
      "NoNewPrivileges=yes",
      "CapabilityBoundingSet=",
      "WantedBy=multi-user.target",
      `ExecStart=${BINARY} launch`,
    ])
      expect(d).toContain(line);
    expect(verify(r.stdout)).toEqual({ code: 0, output: "" });
  });

  verifiedTest(`a system unit whose recordings are in a home folder keeps homes read-only rather than hidden${skipNote(noSystemd)}`, async () => {
    const home = scratch();
    withProfile(home, "homerec", "path_to_store_record: /home/robot/recordings\n");
    const r = await run(["service", "install", "--system", "--profile", "homerec", "--print"], { home });
    const d = directives(r.stdout);
    expect(d).toContain("ProtectHome=read-only");
    expect(d).toContain("ReadWritePaths=/var/lib/nc-data-daemon /home/robot/recordings");
    expect(verify(r.stdout)).toEqual({ code: 0, output: "" });
  });

  verifiedTest(`a recordings folder with a space is quoted so systemd reads one path${skipNote(noSystemd)}`, async () => {
    const home = scratch();
    withProfile(home, "sp", `path_to_store_record: ${home}/my records\n`);
    const r = await run(["service", "install", "--profile", "sp", "--print"], { home });
    expect(directives(r.stdout)).toContain(`ReadWritePaths=${home}/.neuracore/data_daemon "${home}/my records"`);
    expect(verify(r.stdout).code).toBe(0);
  });

  test("a file:// upload folder is writable too, as an optional path (a mount may come later), and the unit still verifies", async () => {
    const home = scratch();
    const records = join(home, "data", "records");
    withProfile(home, "nas", `path_to_store_record: ${records}\nupload_url: file:///srv/nas/robot-uploads\n`);
    const r = await run(["service", "install", "--profile", "nas", "--print"], { home });
    expect(r.code).toBe(0);
    expect(directives(r.stdout)).toContain(`ReadWritePaths=${join(home, ".neuracore", "data_daemon")} ${records} -/srv/nas/robot-uploads`);
    expect(verify(r.stdout)).toEqual({ code: 0, output: "" });
    // The system unit too; a folder with a space stays one path; an upload folder in a home keeps homes read-only, not hidden.
    withProfile(home, "spaced", "upload_url: file:///home/robot/my%20uploads\n");
    const sys = await run(["service", "install", "--system", "--profile", "spaced", "--print"], { home });
    const d = directives(sys.stdout);
    expect(d).toContain('ReadWritePaths=/var/lib/nc-data-daemon "-/home/robot/my uploads"');
    expect(d).toContain("ProtectHome=read-only");
    expect(verify(sys.stdout)).toEqual({ code: 0, output: "" });
  });

  test("watched folders are listed as optional writable paths (watch_after_upload: delete removes files there), and the unit still verifies", async () => {
    const home = scratch();
    const records = join(home, "data", "records");
    withProfile(home, "watcher", `path_to_store_record: ${records}\nwatch_paths:\n  - /srv/bags\n  - /home/robot/logs\n`);
    const r = await run(["service", "install", "--profile", "watcher", "--print"], { home });
    expect(r.code).toBe(0);
    const d = directives(r.stdout);
    expect(d).toContain(`ReadWritePaths=${join(home, ".neuracore", "data_daemon")} ${records} -/srv/bags -/home/robot/logs`);
    expect(verify(r.stdout)).toEqual({ code: 0, output: "" });
    // The system unit keeps homes read-only, not hidden, when a watched folder is in one.
    const sys = await run(["service", "install", "--system", "--profile", "watcher", "--print"], { home });
    expect(directives(sys.stdout)).toContain("ProtectHome=read-only");
    expect(verify(sys.stdout)).toEqual({ code: 0, output: "" });
    withProfile(home, "tmpwatch", "watch_paths:\n  - /tmp/bags\n");
    const refused = await run(["service", "install", "--profile", "tmpwatch", "--print"], { home });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("watch_paths /tmp/bags is under /tmp or /var/tmp");
  });

  test("an upload folder inside the state folder is not listed twice", async () => {
    const home = scratch();
    withProfile(home, "inner", "upload_url: file:///var/lib/nc-data-daemon/outbox\n");
    const r = await run(["service", "install", "--system", "--profile", "inner", "--print"], { home });
    expect(r.code).toBe(0);
    expect(directives(r.stdout)).toContain("ReadWritePaths=/var/lib/nc-data-daemon");
  });

  test("an upload folder under /tmp or /var/tmp, which PrivateTmp= hides, is refused naming the fix", async () => {
    for (const dir of ["/tmp/uploads", "/var/tmp/outbox"]) {
      const home = scratch();
      withProfile(home, "tmp", `upload_url: file://${dir}\n`);
      const r = await run(["service", "install", "--profile", "tmp", "--print"], { home });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe("");
      expect(r.stderr).toContain(`upload_url file://${dir} is under`);
      expect(r.stderr).toContain("PrivateTmp=yes");
      expect(r.stderr).toContain("Choose an upload folder outside /tmp and /var/tmp.");
    }
  });

  test("an unknown profile is an error naming it, and nothing is printed", async () => {
    const r = await run(["service", "install", "--profile", "nope", "--print"], { home: scratch() });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("nope");
  });

  test("--user with --system is a usage error", async () => {
    expect((await run(["service", "install", "--user", "--system", "--print"], { home: scratch() })).code).toBe(2);
  });
});

describe("service install --print --manager launchd", () => {
  test.each(["user", "system"])("the %s plist is a property list launchd can read", async (scope) => {
    const home = scratch();
    withProfile(home, "mac", "offline: true\n");
    const r = await run(["service", "install", `--${scope}`, "--manager", "launchd", "--profile", "mac", "--print"], { home });
    expect(r.code).toBe(0);
    const plist = parsePlist(r.stdout);
    expect(plist).toMatchObject({
      Label: "com.neuracore.nc-data-daemon",
      ProgramArguments: [BINARY, "launch", "--profile", "mac"],
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
    });
    if (scope === "system") expect(plist).toMatchObject({ UserName: "nc-data-daemon", EnvironmentVariables: { NCD_SYSTEM: "1" } });
    else expect(plist.UserName).toBeUndefined();
  });
});

describe("service install / uninstall where no service manager runs", () => {
  test("install writes the user unit, creates the writable folders, exits 0 and prints the systemctl commands; uninstall removes it and keeps recordings", async () => {
    const home = scratch();
    const printed = (await run(["service", "install", "--print"], { home })).stdout;
    const r = await run(["service", "install"], { home });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const unit = join(home, ".config", "systemd", "user", "nc-data-daemon.service");
    expect(readFileSync(unit, "utf8")).toBe(printed);
    expect(r.stdout).toContain("No service manager here (no systemd user manager runs for this user), so nothing was started or stopped.");
    expect(r.stdout).toContain("  systemctl --user daemon-reload\n  systemctl --user enable --now nc-data-daemon\n");
    const recordings = join(home, ".neuracore", "data_daemon", "recordings");
    expect(statSync(recordings).mode & 0o777).toBe(0o700);
    writeFileSync(join(recordings, "keep.mcap"), "data");

    const status = await run(["service", "status", "--json"], { home });
    expect(status.code).toBe(3);
    expect(JSON.parse(status.stdout)).toMatchObject({ scope: "user", installed: true, manager_running: false, daemon: { running: false } });

    const u = await run(["uninstall"], { home });
    expect(u.code).toBe(0);
    expect(u.stdout).toContain("systemctl --user disable --now nc-data-daemon");
    expect(existsSync(unit)).toBe(false);
    expect(readFileSync(join(recordings, "keep.mcap"), "utf8")).toBe("data");
    expect((await run(["service", "uninstall"], { home })).stdout).toContain("No user service is installed");
  });

  test("install warns when a daemon started by hand holds the instance the service would use", async () => {
    const home = scratch();
    expect((await run(["launch", "--background", "--offline"], { home })).code).toBe(0);
    try {
      const pid = (JSON.parse((await run(["status", "--json"], { home })).stdout) as { pid: number }).pid;
      const r = await run(["service", "install"], { home });
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`A daemon started by hand runs (pid=${pid}); stop it (nc-data-daemon stop)`);
    } finally {
      await run(["stop"], { home });
    }
  });

  verifiedTest(
    `install --system under a test root writes /etc/systemd/system, the state folder and a private copy of the profile${skipNote(noSystemd)}`,
    async () => {
      const home = scratch();
      const root = scratch();
      withProfile(home, "fleet", "offline: true\n");
      const env = { NCD_SYSTEM_ROOT: root };
      const r = await run(["install", "--system", "--profile", "fleet"], { home, env });
      expect(r.code).toBe(0);
      const unit = join(root, "etc", "systemd", "system", "nc-data-daemon.service");
      expect(readFileSync(unit, "utf8")).toContain(`ExecStart=${BINARY} launch --profile fleet`);
      expect(r.stdout).toContain("  systemctl daemon-reload\n  systemctl enable --now nc-data-daemon\n");
      const copy = join(root, "var", "lib", "nc-data-daemon", "profiles", "fleet.yaml");
      expect(readFileSync(copy, "utf8")).toBe("offline: true\n");
      expect(statSync(copy).mode & 0o777).toBe(0o600);
      expect(statSync(join(root, "var", "lib", "nc-data-daemon")).mode & 0o777).toBe(0o700);
      expect(verify(readFileSync(unit, "utf8")).code).toBe(0);
      const u = await run(["service", "uninstall", "--system"], { home, env });
      expect(u.code).toBe(0);
      expect(existsSync(unit)).toBe(false);
      expect(existsSync(copy)).toBe(true);
    },
  );
});
