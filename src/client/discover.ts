// Which running daemon a client uses when nothing names one. The user's own daemon (under HOME,
// or the --instance asked for) wins when it answers; otherwise, with no instance asked for, the
// system service's (`service install --system`), so that a user's script never starts a second
// daemon beside the one the machine runs. docs/service.md documents this order.
import { accessSync, constants, existsSync } from "node:fs";
import { resolveSystemPaths, type Paths } from "../config/index.ts";
import { UnavailableError } from "../errors.ts";
import { createClient, type DaemonClient, type Health } from "./client.ts";

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

/** The system socket exists but this user may not connect: say how to fix it, rather than start another daemon. */
function checkAccess(socket: string): void {
  try {
    accessSync(socket, constants.R_OK | constants.W_OK);
  } catch {
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
  if (!existsSync(system.socket)) return null;
  checkAccess(system.socket);
  const sysClient = createClient({ socket: system.socket, timeoutMs });
  const sysHealth = await healthOf(sysClient);
  return sysHealth ? { client: sysClient, health: sysHealth, system: true } : null;
}

