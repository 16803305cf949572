import { defineCommand } from "citty";
import { VERSION } from "../version.ts";
import type { Command } from "./run.ts";

// Sub-commands load lazily so that `status` does not pay for the daemon's code.
export const rootCommand: Command = defineCommand({
  meta: {
    name: "nc-data-daemon",
    version: VERSION,
    description: "Stores recordings durably on this machine and uploads them to object storage. Add --debug to any command for stack traces.",
  },
  subCommands: {
    launch: () => import("./commands/launch.ts").then((m) => m.default),
    status: () => import("./commands/status.ts").then((m) => m.default),
    stop: () => import("./commands/stop.ts").then((m) => m.default),
    restart: () => import("./commands/restart.ts").then((m) => m.default),
    update: () => import("./commands/update.ts").then((m) => m.default),
    profile: () => import("./commands/profile.ts").then((m) => m.default),
    "list-profiles": () => import("./commands/list-profiles.ts").then((m) => m.default),
    config: () => import("./commands/config.ts").then((m) => m.default),
    record: () => import("./commands/record.ts").then((m) => m.default),
    run: () => import("./commands/run.ts").then((m) => m.default),
    metrics: () => import("./commands/metrics.ts").then((m) => m.default),
    doctor: () => import("./commands/doctor.ts").then((m) => m.default),
    reset: () => import("./commands/reset.ts").then((m) => m.default),
    recordings: () => import("./commands/recordings.ts").then((m) => m.default),
    decrypt: () => import("./commands/decrypt.ts").then((m) => m.default),
    version: () => import("./commands/version.ts").then((m) => m.default),
    service: () => import("./commands/service.ts").then((m) => m.default),
    install: () => import("./commands/service.ts").then((m) => m.installAlias),
    uninstall: () => import("./commands/service.ts").then((m) => m.uninstallAlias),
  },
});
