// Which running daemon a client uses when nothing names one. The user's own daemon (under HOME,
// or the --instance asked for) wins when it answers; otherwise, with no instance asked for, the
// system service's (`service install --system`), so that a user's script never starts a second
// daemon beside the one the machine runs. docs/service.md documents this order.
import { accessSync, constants, existsSync } from "node:fs";
import { dirname } from "node:path";
import { resolveSystemPaths, type Paths } from "../config/index.ts";
import { UnavailableError } from "../errors.ts";
import type { Health } from "../api/index.ts";
import { createClient, type DaemonClient } from "./client.ts";

export interface Found {
  client: DaemonClient;
  health: Health;
  system: boolean;
}

async function healthOf(client: DaemonClient): Promise<Health | null> {
  try {
    return await client.health();
  } catch {
    return null;
  }
}

/**
 * Whether the system socket is there for this user. A non-member cannot even see into its 0750
 * folder: that folder existing (systemd removes it when the service stops) is enough to say
 * how to fix it, rather than start another daemon beside the system one.
 */
function systemSocketUsable(socket: string): boolean {
  if (!existsSync(dirname(socket))) return false;
  try {
    accessSync(socket, constants.R_OK | constants.W_OK);
    return true;
  } catch (err) {
    if ((err as { code?: string }).code === "ENOENT") return false;
    throw new UnavailableError(
      `A system daemon listens on ${socket}, but this user may not use it: add the user to the group nc-data-daemon (sudo usermod -aG nc-data-daemon $USER, then log in again), or pass --instance to run a daemon of your own.`,
    );
  }
}

/** The user's daemon if it answers, else (no instance asked for) the system service's, else null. */
export async function discoverDaemon(env: Record<string, string | undefined>, own: Paths, timeoutMs?: number): Promise<Found | null> {
  const client = createClient({ socket: own.socket, timeoutMs });
  const health = await healthOf(client);
  if (health) return { client, health, system: false };
  if (own.instance !== null || own.shared) return null;
  const system = resolveSystemPaths(env);
  if (!systemSocketUsable(system.socket)) return null;
  const sysClient = createClient({ socket: system.socket, timeoutMs });
  const sysHealth = await healthOf(sysClient);
  return sysHealth ? { client: sysClient, health: sysHealth, system: true } : null;
}
