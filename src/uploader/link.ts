// Which network link reaches the upload target, found without spawning a tool and without
// sending a packet: a UDP socket connected to the target's address makes the kernel pick the
// route and its source address (a connect on UDP only looks the route up), and that address is
// matched against this machine's interfaces. A file:// target has no link. Where it cannot be
// found (no address, a name that does not resolve) the link counts as unmetered, and the view
// says why. A runtime that does not report the bound address (Deno) reads the route from Linux's
// tables instead (proc-route.ts).
import { createSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { interfaceOf, routeFromProc } from "./proc-route.ts";

export interface LinkView {
  /** The interface the route to the target leaves by, or null when unknown (or no link). */
  interface: string | null;
  /** Our address on it. */
  address: string | null;
  /** The interface matches metered_interfaces. */
  metered: boolean;
  /** Why the interface is unknown (so counted as unmetered); null when it is known. */
  unknown: string | null;
  /** The target's address the route was looked up to, when its name resolved. */
  target?: string;
}

/** Where uploads go: a host and port, or null for a target with no network link (file://). */
export type LinkEndpoint = { host: string; port: number } | null;

/** `*` matches any run of characters, `?` one; the whole name must match. */
export function globMatch(glob: string, name: string): boolean {
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replaceAll("*", ".*")
      .replaceAll("?", ".")}$`,
  );
  return re.test(name);
}

export const isMetered = (name: string, globs: readonly string[]) => globs.some((g) => globMatch(g, name));

/**
 * The host and port an upload_url's requests go to (S3: its endpoint, given), null for file://
 * and for a URL the WHATWG parser refuses (the target itself reports that one; no link is found).
 */
export function endpointOf(url: string, s3Endpoint?: string): LinkEndpoint {
  let u: URL;
  try {
    u = new URL(s3Endpoint ?? url);
  } catch {
    return null;
  }
  if (u.protocol === "file:") return null;
  const port = u.port ? Number(u.port) : u.protocol === "http:" ? 80 : 443;
  return { host: u.hostname.replace(/^\[|\]$/g, ""), port };
}

/** The source address the kernel would use towards `address`, or undefined when not reported. */
function sourceAddress(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = createSocket(isIP(address) === 6 ? "udp6" : "udp4");
    const done = (a: string | undefined) => {
      try {
        s.close();
      } catch {}
      resolve(a);
    };
    s.once("error", () => done(undefined));
    s.connect(port, address, () => {
      try {
        const a = s.address().address;
        done(a && a !== "0.0.0.0" && a !== "::" ? a : undefined);
      } catch {
        done(undefined);
      }
    });
  });
}

/**
 * The link to `endpoint`. `resolved`, when given, is the host's address looked up earlier: the
 * caller keeps it a while, so looking at the link often asks no name server each time.
 */
export async function findLink(endpoint: LinkEndpoint, globs: readonly string[], resolved?: string): Promise<LinkView> {
  const none = (unknown: string | null): LinkView => ({ interface: null, address: null, metered: false, unknown });
  if (!endpoint) return none("the target is a folder (file://): no network link");
  let address = resolved ?? endpoint.host;
  if (!isIP(address)) {
    try {
      address = (await lookup(address)).address;
    } catch (e) {
      return none(`${endpoint.host} does not resolve (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): counted as unmetered`);
    }
  }
  const source = await sourceAddress(address, endpoint.port);
  if (!source) {
    // A runtime that does not report the bound address (Deno): Linux's routing tables say.
    const route = routeFromProc(address);
    if (route) return { interface: route.interface, address: route.address, metered: isMetered(route.interface, globs), unknown: null, target: address };
    return { ...none("the route to the target could not be looked up: counted as unmetered"), target: address };
  }
  const name = interfaceOf(source);
  if (!name) return { ...none(`no interface holds ${source}, the route's source address: counted as unmetered`), address: source, target: address };
  return { interface: name, address: source, metered: isMetered(name, globs), unknown: null, target: address };
}
