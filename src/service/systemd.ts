// The systemd unit for nc-data-daemon. The daemon stops in order on SIGTERM, so systemd's
// default stop is right; Restart=on-failure brings it back after a crash but not after
// `systemctl stop`. The sandbox leaves writable only the state and recordings folders.
import { launchArgs, SYSTEM_ACCOUNT, type ServiceSpec } from "./spec.ts";

/** systemd splits ExecStart= on spaces and treats % and $ specially: quote and escape. */
export function quoteArg(arg: string): string {
  const escaped = arg.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$");
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? escaped : `"${escaped}"`;
}

/** A path in ReadWritePaths= and the like: spaces and specials escaped the way systemd reads them. */
const pathArg = (p: string) => (/^[A-Za-z0-9_@+=:,./-]+$/.test(p) ? p : quoteArg(p));

export const inHome = (p: string) => /^\/(home|root|run\/user)(\/|$)/.test(p);

export function renderSystemdUnit(spec: ServiceSpec): string {
  const system = spec.scope === "system";
  const writable = spec.recordingsDir.startsWith(`${spec.stateDir}/`) ? [spec.stateDir] : [spec.stateDir, spec.recordingsDir];
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
          `ProtectHome=${[spec.command[0]!, spec.recordingsDir].some(inHome) ? "read-only" : "yes"}`,
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
    `ReadWritePaths=${writable.map(pathArg).join(" ")}`,
    "",
    "[Install]",
    `WantedBy=${system ? "multi-user.target" : "default.target"}`,
    "",
  ];
  return lines.join("\n");
}
