// The launchd property list for macOS: a LaunchAgent for the user, a LaunchDaemon (run as the
// nc-data-daemon account) for the system. KeepAlive on an unsuccessful exit is launchd's
// Restart=on-failure.
import { join } from "node:path";
import { LAUNCHD_LABEL, launchArgs, SYSTEM_ACCOUNT, type ServiceSpec } from "./spec.ts";

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const str = (s: string) => `<string>${xml(s)}</string>`;

export function renderLaunchdPlist(spec: ServiceSpec): string {
  const system = spec.scope === "system";
  const log = join(spec.stateDir, "logs", "service.log");
  const env: Record<string, string> = system ? { NCD_SYSTEM: "1", HOME: spec.stateDir } : {};
  const body = [
    `  <key>Label</key>${str(LAUNCHD_LABEL)}`,
    "  <key>ProgramArguments</key>",
    "  <array>",
    ...launchArgs(spec).map((a) => `    ${str(a)}`),
    "  </array>",
    "  <key>RunAtLoad</key><true/>",
    "  <key>KeepAlive</key>",
    "  <dict><key>SuccessfulExit</key><false/></dict>",
    `  <key>ProcessType</key>${str("Background")}`,
    "  <key>Umask</key><integer>63</integer>",
    `  <key>WorkingDirectory</key>${str(spec.stateDir)}`,
    `  <key>StandardOutPath</key>${str(log)}`,
    `  <key>StandardErrorPath</key>${str(log)}`,
    ...(system ? [`  <key>UserName</key>${str(SYSTEM_ACCOUNT)}`, `  <key>GroupName</key>${str(SYSTEM_ACCOUNT)}`] : []),
    ...(Object.keys(env).length
      ? ["  <key>EnvironmentVariables</key>", "  <dict>", ...Object.entries(env).map(([k, v]) => `    <key>${xml(k)}</key>${str(v)}`), "  </dict>"]
      : []),
  ];
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">',
    '<plist version="1.0">',
    "<dict>",
    ...body,
    "</dict>",
    "</plist>",
    "",
  ].join("\n");
}
