// scripts/install.sh against a folder (and a loopback HTTP server) of release files, run by
// /bin/sh (dash on Debian, so a bash-ism fails here). The payloads for other machines are
// small scripts that print their target name (the real ones cannot run here); the last tests
// install the real binary and run it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BINARY, tempHome } from "../support/binary.ts";
import { readableCopy, removeReadableCopies } from "../support/readable-copy.ts";
import { requireTool, skipNote } from "../support/tools.ts";
import { ROOT } from "./helpers.ts";

const INSTALL = join(ROOT, "scripts/install.sh");
const TARGETS = ["linux-x64", "linux-x64-baseline", "linux-arm64", "darwin-arm64", "darwin-x64"];
const dirs: string[] = [];
const scratch = () => {
  const d = tempHome("ncd-inst");
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  removeReadableCopies();
});

/** A release folder: one payload per target, then SHA256SUMS computed by coreutils. */
function releaseFolder(payload: (target: string) => string | null): string {
  const dir = scratch();
  for (const t of TARGETS) {
    const src = payload(t);
    if (src === null) continue;
    const file = join(dir, `nc-data-daemon-${t}`);
    if (existsSync(src)) copyFileSync(src, file);
    else writeFileSync(file, src);
    chmodSync(file, 0o755);
  }
  const sums = Bun.spawnSync(["sh", "-c", "sha256sum nc-data-daemon-*"], { cwd: dir });
  writeFileSync(join(dir, "SHA256SUMS"), sums.stdout);
  return dir;
}

// Asynchronous: the HTTP test's server lives in this process and must answer meanwhile.
async function install(args: string[], env: Record<string, string>, prefix: string[] = [], script = INSTALL) {
  const p = Bun.spawn([...prefix, "/bin/sh", script, ...args], { env: { PATH: "/usr/bin:/bin", ...env }, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

const fakes = releaseFolder((t) => `#!/bin/sh\necho ${t}\n`);

describe("install.sh", () => {
  const noShellcheck = requireTool("shellcheck");
  test.skipIf(noShellcheck !== undefined)(`is POSIX sh and shellcheck-clean${skipNote(noShellcheck)}`, () => {
    const sc = Bun.spawnSync(["shellcheck", "-s", "sh", INSTALL]);
    expect(sc.stdout.toString() + sc.stderr.toString()).toBe("");
    expect(sc.exitCode).toBe(0);
    expect(readFileSync(INSTALL, "utf8").split("\n")[0]).toBe("#!/bin/sh");
  });

  test.skipIf(noShellcheck !== undefined)(`scripts/release, the one-command wrapper, is POSIX sh and shellcheck-clean too${skipNote(noShellcheck)}`, () => {
    const sc = Bun.spawnSync(["shellcheck", "-s", "sh", join(ROOT, "scripts/release")]);
    expect(sc.stdout.toString() + sc.stderr.toString()).toBe("");
    expect(sc.exitCode).toBe(0);
  });

  const pairs: [string, string, string][] = [
    ["Linux", "x86_64", "linux-x64"],
    ["Linux", "amd64", "linux-x64"],
    ["Linux", "x64-baseline", "linux-x64-baseline"],
    ["Linux", "aarch64", "linux-arm64"],
    ["Linux", "arm64", "linux-arm64"],
    ["Darwin", "arm64", "darwin-arm64"],
    ["Darwin", "x86_64", "darwin-x64"],
  ];
  test.each(pairs)("uname %s %s installs nc-data-daemon-%s", async (os, arch, target) => {
    const prefix = scratch();
    const r = await install(["--prefix", prefix], { NCD_INSTALL_BASE: fakes, NCD_INSTALL_OS: os, NCD_INSTALL_ARCH: arch, HOME: prefix });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const bin = join(prefix, "bin/nc-data-daemon");
    expect(Bun.spawnSync([bin]).stdout.toString()).toBe(`${target}\n`);
    expect(r.stdout).toContain(`(${target}, checksum verified)`);
  });

  test.each([
    ["Windows_NT", "x86_64", "OS 'Windows_NT'"],
    ["Linux", "riscv64", "CPU 'riscv64'"],
  ])("uname %s %s is refused, naming what is built", async (os, arch, named) => {
    const prefix = scratch();
    const r = await install(["--prefix", prefix], { NCD_INSTALL_BASE: fakes, NCD_INSTALL_OS: os, NCD_INSTALL_ARCH: arch });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(named);
    expect(existsSync(join(prefix, "bin"))).toBe(false);
  });

  test("refuses a binary whose SHA-256 does not match, and keeps the installed one", async () => {
    const dir = releaseFolder((t) => `#!/bin/sh\necho ${t}\n`);
    const prefix = scratch();
    const env = { NCD_INSTALL_BASE: dir, NCD_INSTALL_OS: "Linux", NCD_INSTALL_ARCH: "aarch64", HOME: prefix };
    expect((await install(["--prefix", prefix], env)).code).toBe(0);
    writeFileSync(join(dir, "nc-data-daemon-linux-arm64"), "#!/bin/sh\necho tampered\n");
    const r = await install(["--prefix", prefix], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("SHA-256 mismatch for nc-data-daemon-linux-arm64");
    expect(r.stderr).toContain("not installed");
    expect(Bun.spawnSync([join(prefix, "bin/nc-data-daemon")]).stdout.toString()).toBe("linux-arm64\n");
  });

  test("refuses a binary that SHA256SUMS does not list", async () => {
    const dir = releaseFolder((t) => `#!/bin/sh\necho ${t}\n`);
    writeFileSync(
      join(dir, "SHA256SUMS"),
      readFileSync(join(dir, "SHA256SUMS"), "utf8")
        .split("\n")
        .filter((l) => !l.endsWith("darwin-x64"))
        .join("\n"),
    );
    const prefix = scratch();
    const r = await install(["--prefix", prefix], { NCD_INSTALL_BASE: dir, NCD_INSTALL_OS: "Darwin", NCD_INSTALL_ARCH: "x86_64" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("SHA256SUMS has no line for nc-data-daemon-darwin-x64");
    expect(existsSync(join(prefix, "bin/nc-data-daemon"))).toBe(false);
  });

  test("refuses a base that is neither a URL nor an absolute folder", async () => {
    const r = await install(["--prefix", scratch()], { NCD_INSTALL_BASE: "dist/release" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("must be a URL (https://...) or an absolute folder");
  });
});

describe("install.sh with the real binary", () => {
  const host = `${process.platform}-${process.arch}`;
  let real: string;
  let server: ReturnType<typeof Bun.serve>;
  beforeAll(() => {
    real = releaseFolder((t) => (t === host ? BINARY : `#!/bin/sh\necho ${t}\n`));
    server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response(Bun.file(join(real, new URL(req.url).pathname.slice(1)))) });
  });
  afterAll(() => server?.stop(true));

  test("downloads over HTTP, verifies, installs, and the installed binary runs", async () => {
    const prefix = scratch();
    const r = await install(["--prefix", prefix], { NCD_INSTALL_BASE: `http://127.0.0.1:${server.port}`, HOME: prefix });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const bin = join(prefix, "bin/nc-data-daemon");
    const v = JSON.parse(Bun.spawnSync([bin, "version", "--json"], { env: { HOME: prefix } }).stdout.toString()) as { target: string };
    expect(v.target).toBe(host);
    expect(r.stdout).toContain(`to ${bin} (${host}, checksum verified)`);
    // Not on PATH here: it says how to add it, and the next command names the full path.
    expect(r.stdout).toContain(`export PATH="${join(prefix, "bin")}:$PATH"`);
    expect(r.stdout).toContain(`Next: ${bin} launch --background`);
  });

  test("as an ordinary user without --prefix, installs to ~/.local/bin", async () => {
    // The checkout and the scratch folders may be private to root: this user runs copies of the
    // script and the release files, in a folder it can read.
    const files = readableCopy(INSTALL, join(real, `nc-data-daemon-${host}`), join(real, "SHA256SUMS"));
    const home = join(files, "home");
    mkdirSync(home);
    chownSync(home, 65534, 65534);
    const r = await install(
      [],
      { PATH: `${home}/.local/bin:/usr/bin:/bin`, HOME: home, NCD_INSTALL_BASE: files },
      ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"],
      join(files, "install.sh"),
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Next: nc-data-daemon launch --background");
    const bin = join(home, ".local/bin/nc-data-daemon");
    expect(Bun.spawnSync([bin, "--version"]).stdout.toString()).toMatch(/^nc-data-daemon \d+\.\d+\.\d+ /);
  });
});
