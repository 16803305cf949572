// The system tools some tests need beyond Bun (scripts/setup installs them as root with apt).
// Where one cannot be had, its tests are skipped with the reason printed, so a fresh machine's
// `npm test` passes and says what it did not test; under CI=true a missing tool fails the run
// instead, so CI never passes on tests it skipped.
import { existsSync } from "node:fs";

interface Tool {
  present(): boolean;
  /** What is missing and which Debian packages provide it. */
  what: string;
}

const which = (bin: string) => Bun.which(bin) !== null;
/** A module of Debian's own interpreter, where apt installs it (not a python3 found first on PATH). */
const pythonModule = (name: string) =>
  existsSync("/usr/bin/python3") && Bun.spawnSync(["/usr/bin/python3", "-c", `import ${name}`], { stderr: "ignore" }).exitCode === 0;

export const QEMU = "/usr/bin/qemu-aarch64-static";
export const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";

const TOOLS = {
  strace: { present: () => which("strace"), what: "strace is not installed (package strace)" },
  shellcheck: { present: () => which("shellcheck"), what: "shellcheck is not installed (package shellcheck)" },
  "systemd-analyze": { present: () => which("systemd-analyze"), what: "systemd-analyze is not installed (package systemd)" },
  "qemu-arm64": {
    present: () => existsSync(QEMU) && existsSync(`${ARM64_SYSROOT}/lib/ld-linux-aarch64.so.1`),
    what: `${QEMU} or the arm64 sysroot ${ARM64_SYSROOT} is missing (packages qemu-user-static, libc6-arm64-cross)`,
  },
  fuse: {
    present: () => existsSync("/dev/fuse") && which("fusermount") && pythonModule("fusepy"),
    what: "FUSE is not usable here: /dev/fuse, fusermount and Debian's python3 with fusepy are needed (packages fuse3, python3-fusepy)",
  },
  faketime: {
    present: () => ["x86_64-linux-gnu", "aarch64-linux-gnu"].some((a) => existsSync(`/usr/lib/${a}/faketime/libfaketime.so.1`)),
    what: "libfaketime is not installed (package faketime)",
  },
  age: { present: () => which("age") && which("age-keygen"), what: "age and age-keygen are not installed (package age)" },
  prlimit: { present: () => which("prlimit"), what: "prlimit is not installed (package util-linux)" },
  openssl: { present: () => which("openssl"), what: "openssl is not installed (package openssl)" },
  aws: { present: () => which("aws"), what: "the AWS CLI is not installed (package awscli)" },
  radosgw: {
    present: () => ["ceph-mon", "ceph-osd", "radosgw", "ceph", "radosgw-admin", "monmaptool", "uuidgen"].every(which) && pythonModule("rados"),
    what: "Ceph is not installed (packages ceph-mon, ceph-osd, radosgw, ceph-common, uuid-runtime, python3-rados)",
  },
} satisfies Record<string, Tool>;

export type ToolName = keyof typeof TOOLS;

const warned = new Set<string>();

/**
 * Undefined when the tool is here; else the reason its tests are skipped (printed once). Under
 * CI=true a missing tool throws instead, failing the file that needs it.
 */
export function requireTool(name: ToolName): string | undefined {
  const tool: Tool = TOOLS[name];
  if (tool.present()) return undefined;
  const reason = `${tool.what}; scripts/setup installs it`;
  if (process.env.CI === "true") throw new Error(`CI=true and a tool the tests need is missing: ${reason}`);
  if (!warned.has(name)) console.warn(`skipping the tests that need ${name}: ${reason}`);
  warned.add(name);
  return reason;
}

/** A suffix for a skipped test's or group's name, so the reason shows beside "(skip)". */
export const skipNote = (reason: string | undefined) => (reason === undefined ? "" : ` [skipped: ${reason}]`);
