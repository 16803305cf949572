// The route from Linux's own tables (src/uploader/proc-route.ts), for a runtime whose UDP socket
// does not report its bound address: tables as the kernel writes them, and this machine's answer
// beside the connected socket's.
import { expect, test } from "bun:test";
import { findLink } from "../../src/uploader/link.ts";
import { routeFromProc, routeV4, routeV6 } from "../../src/uploader/proc-route.ts";

// /proc/net/route: a default route by eth0, 10.201.0.0/24 by wwan0, a more specific
// 10.201.0.128/25 by wlan0, the same /24 again by usb0 at a higher metric, and a reject route.
const V4 = `Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t00000000\t010200C0\t0003\t0\t0\t100\t00000000\t0\t0\t0
wwan0\t0000C90A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
usb0\t0000C90A\t00000000\t0001\t0\t0\t50\t00FFFFFF\t0\t0\t0
wlan0\t8000C90A\t00000000\t0001\t0\t0\t0\t80FFFFFF\t0\t0\t0
lo\t0000CA0A\t00000000\t0201\t0\t0\t0\t00FFFFFF\t0\t0\t0
down0\t0000CB0A\t00000000\t0000\t0\t0\t0\t00FFFFFF\t0\t0\t0
`;

test("IPv4: the longest matching prefix wins, then the lowest metric; reject and down routes are passed over", () => {
  expect(routeV4(V4, "10.201.0.7")).toBe("wwan0");
  expect(routeV4(V4, "10.201.0.200")).toBe("wlan0");
  expect(routeV4(V4, "93.184.216.34")).toBe("eth0");
  expect(routeV4(V4, "10.202.0.1")).toBe("eth0"); // the reject route does not take it
  expect(routeV4(V4, "10.203.0.1")).toBe("eth0"); // nor a route that is down
  expect(routeV4("Iface\tDestination\n", "10.0.0.1")).toBeUndefined();
});

// /proc/net/ipv6_route: dest, prefix length (hex), source, its length, next hop, metric (hex),
// refcount, use, flags (hex), interface.
const Z = "00000000000000000000000000000000";
const V6 = [
  `fd000000000000000000000000000000 40 ${Z} 00 ${Z} 00000100 00000001 00000000 00000001     eth0`,
  `fd000000000000010000000000000000 40 ${Z} 00 ${Z} 00000100 00000001 00000000 00000001    wwan0`,
  `20010db8000000000000000000000000 20 ${Z} 00 ${Z} 00000100 00000001 00000000 00000001    wlan0`,
  `20010db8000000000000000000000000 20 ${Z} 00 ${Z} 00000010 00000001 00000000 00000001     usb0`,
  `${Z} 00 ${Z} 00 fd000000000000000000000000000001 00000400 00000003 00000000 00000003     eth0`,
  `${Z} 00 ${Z} 00 ${Z} ffffffff 00000001 00000000 00200200       lo`,
].join("\n");

test("IPv6: the longest matching prefix wins, then the lowest metric; the reject route is passed over", () => {
  expect(routeV6(V6, "fd00::1:2")).toBe("eth0");
  expect(routeV6(V6, "fd00:0:0:1::9")).toBe("wwan0");
  expect(routeV6(V6, "2001:db8:5::1")).toBe("usb0");
  expect(routeV6(V6, "2606:4700::1111")).toBe("eth0");
});

test.skipIf(process.platform !== "linux")("on this machine the tables name the interface the connected socket finds", async () => {
  // An IPv4 address written as IPv6 goes the IPv4 way.
  expect(routeFromProc("::ffff:10.9.9.9")?.interface).toBe(routeFromProc("10.9.9.9")?.interface);
  for (const target of ["127.0.0.1", "10.9.9.9", "192.0.2.77"]) {
    const byTables = routeFromProc(target);
    const bySocket = await findLink({ host: target, port: 443 }, []);
    expect(byTables?.interface ?? null).toBe(bySocket.interface);
    expect(byTables?.address ?? null).toBe(bySocket.address);
  }
});
