// The doctor's look at the link uploads leave by, as the running daemon sees it: a warning when
// uploads run over a metered interface under metered_policy allow (the LTE bill no one chose).
import type { StatusBody } from "../../client/index.ts";
import { pass, warn, type CheckResult } from "./check.ts";

export function linkCheck(status: StatusBody | undefined): CheckResult {
  const link = status?.uploads.link;
  if (!link) return pass("link", status ? "no upload target: no link is used" : "no daemon running: the link in use is not known");
  if (!link.interface) return pass("link", `unknown, counted as unmetered (${link.note})`);
  if (link.kind !== "metered") return pass("link", `${link.interface} (unmetered)`);
  if (link.metered_policy === "allow")
    return warn(
      "link",
      `uploads run over the metered link ${link.interface} (metered_policy: allow)`,
      "set metered_policy to high-only or pause (nc-data-daemon update --metered-policy high-only), or cap it with metered_bandwidth_limit",
    );
  return pass("link", `${link.interface} (metered, metered_policy ${link.metered_policy}${status?.uploads.waiting ? `; ${status.uploads.waiting.text}` : ""})`);
}
