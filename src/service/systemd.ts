// The systemd unit for nc-data-daemon. The daemon stops in order on SIGTERM, so systemd's
// default stop is right; Restart=on-failure brings it back after a crash but not after
// `systemctl stop`. The sandbox (ProtectSystem=strict) leaves writable only the folders the
// config writes: state, recordings, and a file:// upload folder.
import { ConfigError } from "../errors.ts";
import { launchArgs, SYSTEM_ACCOUNT, type ServiceSpec } from "./spec.ts";

/** systemd splits ExecStart= on spaces and treats % and $ specially: quote and escape. */
function quoteArg(arg: string): string {
  const escaped = arg.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$");
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? escaped : `"${escaped}"`;
}

/** A path in ReadWritePaths= and the like: spaces and specials escaped the way systemd reads them. */
const pathArg = (p: string) => (/^[A-Za-z0-9_@+=:,./-]+$/.test(p) ? p : quoteArg(p));

export const inHome = (p: string) => /^\/(home|root|run\/user)(\/|$)/.test(p);

/** Folders PrivateTmp=yes replaces with the service's own empty, temporary ones. */
const PRIVATE_TMP = /^\/(tmp|var\/tmp)(\/|$)/;
const inside = (p: string, dir: string) => p === dir || p.startsWith(`${dir}/`);

/** A file:// upload folder under /tmp would be written into the service's private /tmp, which
 * nobody else sees and which is deleted when the service stops: refused, naming the fix. */
export function assertUploadDirVisible(spec: ServiceSpec): void {
  const hiddenWatch = (spec.watchDirs ?? []).find((d) => PRIVATE_TMP.test(d));
  if (hiddenWatch)
    throw new ConfigError(
      `watch_paths ${hiddenWatch} is under /tmp or /var/tmp, which the service's PrivateTmp=yes replaces with a private folder: the daemon would watch an empty folder. Watch a folder outside /tmp and /var/tmp.`,
    );
  if (spec.uploadDir && PRIVATE_TMP.test(spec.uploadDir))
    throw new ConfigError(
      `upload_url file://${spec.uploadDir} is under ${spec.uploadDir.startsWith("/var/tmp") ? "/var/tmp" : "/tmp"}, which the service's PrivateTmp=yes replaces with a private folder deleted when it stops: uploads would vanish. Choose an upload folder outside /tmp and /var/tmp.`,
    );
}

/** ReadWritePaths=: state and recordings must exist (install creates them); the upload folder
 * is optional (`-`), so a mount missing at boot does not stop the unit. */
function writablePaths(spec: ServiceSpec): string[] {
  const required = inside(spec.recordingsDir, spec.stateDir) ? [spec.stateDir] : [spec.stateDir, spec.recordingsDir];
  const upload = spec.uploadDir && !required.some((d) => inside(spec.uploadDir!, d)) ? [`-${spec.uploadDir}`] : [];
  // Watched folders: optional too; writable because watch_after_upload: delete removes files there.
  const watch = (spec.watchDirs ?? []).filter((w) => ![...required, spec.uploadDir ?? ""].some((d) => d && inside(w, d))).map((w) => `-${w}`);
  return [...required, ...upload, ...watch];
}

export function renderSystemdUnit(spec: ServiceSpec): string {
  const system = spec.scope === "system";
  const lines = [
    "# Written by `nc-data-daemon service install`; `nc-data-daemon service uninstall` removes it.",
    "[Unit]",
    "Description=nc-data-daemon: stores recordings durably and uploads them",
    ...(system ? ["Wants=network-online.target", "After=network-online.target"] : []),
    "",
    "[Service]",
    "Type=simple",
    `ExecStart=${launchArgs(spec).map(quoteArg).join(" ")}`,
    "Restart=on-failure",
    "RestartSec=2",
    // Long enough for an orderly stop that finishes a segment and parks uploads.
    "TimeoutStopSec=60",
    "UMask=0077",
    `WorkingDirectory=${pathArg(spec.stateDir)}`,
    ...(system
      ? [
          `User=${SYSTEM_ACCOUNT}`,
          `Group=${SYSTEM_ACCOUNT}`,
          "Environment=NCD_SYSTEM=1",
          `Environment=HOME=${pathArg(spec.stateDir)}`,
          "StateDirectory=nc-data-daemon",
          "StateDirectoryMode=0700",
          "RuntimeDirectory=nc-data-daemon",
          "RuntimeDirectoryMode=0750",
          // Hide home folders, unless the executable or the recordings are in one: then read-only
          // (the recordings folder stays writable through ReadWritePaths=).
          `ProtectHome=${[spec.command[0]!, spec.recordingsDir, spec.uploadDir ?? "", ...(spec.watchDirs ?? [])].some(inHome) ? "read-only" : "yes"}`,
          "PrivateDevices=yes",
          "ProtectKernelTunables=yes",
          "ProtectKernelModules=yes",
          "ProtectKernelLogs=yes",
          "ProtectControlGroups=yes",
          "ProtectClock=yes",
          "ProtectHostname=yes",
          "RestrictSUIDSGID=yes",
          "RestrictRealtime=yes",
          "RestrictNamespaces=yes",
          "LockPersonality=yes",
          "CapabilityBoundingSet=",
          "SystemCallArchitectures=native",
          "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        ]
      : []),
    "NoNewPrivileges=yes",
    "PrivateTmp=yes",
    "ProtectSystem=strict",
    `ReadWritePaths=${writablePaths(spec).map(pathArg).join(" ")}`,
    "",
    "[Install]",
    `WantedBy=${system ? "multi-user.target" : "default.target"}`,
    "",
  ];
  return lines.join("\n");
}
