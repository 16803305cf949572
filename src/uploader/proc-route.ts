// The route to an address from Linux's own tables (/proc/net/route, /proc/net/ipv6_route), for
// a runtime whose UDP socket does not report the address a connect bound (Deno): the longest
// matching prefix that is up and not a reject route, then the lowest metric. The main IPv4
// table only, as the kernel's default policy uses it; policy rules (ip rule) are not read. A
// loopback target is reached by lo, and one of this machine's own addresses from itself, as the
// local table says. Also here: which interface holds an address (interfaceOf), for both ways.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";

const RTF_UP = 0x1;
const RTF_REJECT = 0x200;

export interface RouteFound {
  interface: string;
  /** This machine's first address of the target's family on that interface, if it has one. */
  address: string | null;
}

/** IPv4 text to its 32-bit value. */
const v4 = (ip: string) => ip.split(".").reduce((n, b) => ((n << 8) | Number(b)) >>> 0, 0);

/** A 32-bit value as /proc/net/route writes it: hex of the address's bytes in the (little-endian) host's order. */
function procV4(hex: string): number {
  const n = Number.parseInt(hex, 16);
  return (((n & 0xff) << 24) | (((n >>> 8) & 0xff) << 16) | (((n >>> 16) & 0xff) << 8) | (n >>> 24)) >>> 0;
}

const prefixLength = (mask: number) => {
  let bits = 0;
  for (let m = mask; m & 0x80000000; m = (m << 1) >>> 0) bits++;
  return bits;
};

/** The interface of the best IPv4 route to `ip` in /proc/net/route's text. */
export function routeV4(table: string, ip: string): string | undefined {
  const target = v4(ip);
  let best: { iface: string; bits: number; metric: number } | undefined;
  for (const line of table.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, dest, , flags, , , metric, mask] = f as [string, string, string, string, string, string, string, string];
    const fl = Number.parseInt(flags, 16);
    if (!(fl & RTF_UP) || fl & RTF_REJECT) continue;
    const m = procV4(mask);
    if ((target & m) >>> 0 !== (procV4(dest) & m) >>> 0) continue;
    const bits = prefixLength(m);
    const met = Number(metric);
    if (!best || bits > best.bits || (bits === best.bits && met < best.metric)) best = { iface, bits, metric: met };
  }
  return best?.iface;
}

/** IPv6 text to its 32 hex digits. */
function hex6(ip: string): string {
  const [head = "", tail = ""] = ip.replace(/%.*$/, "").split("::");
  const groups = (s: string) => (s ? s.split(":") : []);
  const h = groups(head);
  const t = groups(tail);
  const all = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return all
    .map((g) => g.padStart(4, "0"))
    .join("")
    .toLowerCase();
}

/** The first `bits` bits of two 32-hex-digit addresses are the same. */
function samePrefix(a: string, b: string, bits: number): boolean {
  const whole = bits >> 2;
  if (a.slice(0, whole) !== b.slice(0, whole)) return false;
  const rest = bits & 3;
  if (!rest) return true;
  const m = (0xf << (4 - rest)) & 0xf;
  return (Number.parseInt(a[whole]!, 16) & m) === (Number.parseInt(b[whole]!, 16) & m);
}

/** The interface of the best IPv6 route to `ip` in /proc/net/ipv6_route's text. */
export function routeV6(table: string, ip: string): string | undefined {
  const target = hex6(ip);
  let best: { iface: string; bits: number; metric: number } | undefined;
  for (const line of table.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [dest, len, , , , metric, , , flags, iface] = f as [string, string, string, string, string, string, string, string, string, string];
    const fl = Number.parseInt(flags, 16);
    if (!(fl & RTF_UP) || fl & RTF_REJECT) continue;
    const bits = Number.parseInt(len, 16);
    if (!samePrefix(target, dest.toLowerCase(), bits)) continue;
    const met = Number.parseInt(metric, 16);
    if (!best || bits > best.bits || (bits === best.bits && met < best.metric)) best = { iface, bits, metric: met };
  }
  return best?.iface;
}

/** The interface holding `address`, from os.networkInterfaces(). */
export function interfaceOf(address: string, interfaces = networkInterfaces()): string | undefined {
  const bare = address.replace(/^::ffff:/, "").replace(/%.*$/, "");
  for (const [name, addrs] of Object.entries(interfaces)) if (addrs?.some((a) => a.address.replace(/%.*$/, "") === bare)) return name;
  return undefined;
}

const read = (path: string) => {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
};

/**
 * The route to `ip` from this machine's tables, as the kernel would pick its source address:
 * undefined off Linux, or where the tables say nothing.
 */
export function routeFromProc(ip: string, interfaces = networkInterfaces()): RouteFound | undefined {
  // An IPv4 address written as IPv6 (::ffff:192.0.2.1) takes the IPv4 route.
  const bare = ip.replace(/%.*$/, "").replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "");
  const family = isIP(bare);
  if (process.platform !== "linux" || !family) return undefined;
  // One of our own addresses: sent from it (over lo, which the local table says).
  const own = interfaceOf(bare, interfaces);
  if (own) return { interface: own, address: bare };
  let iface: string | undefined;
  if (family === 4 ? bare.startsWith("127.") : hex6(bare) === "00000000000000000000000000000001") iface = "lo";
  else {
    const table = read(family === 4 ? "/proc/net/route" : "/proc/net/ipv6_route");
    iface = table === undefined ? undefined : family === 4 ? routeV4(table, bare) : routeV6(table, bare);
  }
  if (!iface) return undefined;
  const mine = interfaces[iface]?.find((a) => (family === 4 ? a.family === "IPv4" : a.family === "IPv6"));
  return { interface: iface, address: mine?.address ?? null };
}
