// The doctor's checks of the upload target, from one harmless request: reachable, credentials
// accepted, and the clock against the target's Date header.
import type { Config } from "../../config/index.ts";
import type { TargetProbe } from "../../daemon/target-probe.ts";
import { fail, pass, type CheckResult } from "./check.ts";

/** What the target's answer to doctor's one harmless request told: the daemon door's TargetProbe, one shape for both. */
type TargetFacts = TargetProbe;

/** More than this apart and the check fails: S3 refuses requests 15 minutes off, and recording
 * timestamps taken from this clock are off by as much. */
const MAX_SKEW_S = 60;

function credentialFix(config: Config, probe: TargetFacts): string {
  const url = config.upload_url ?? "";
  if (url.startsWith("s3:"))
    return `check the S3 keys (found in: ${probe.credentialsSource ?? "none"}): AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the profile in ~/.aws/credentials (AWS_PROFILE), and that they may list and write the bucket`;
  return "check api_key (NCD_API_KEY, --api-key or the profile) and that the server accepts it";
}

export function targetCheck(config: Config, probe: TargetFacts | null): CheckResult {
  if (!probe) return pass("target", "no upload_url: recordings are stored locally only");
  if (probe.accepted) return pass("target", `reachable, credentials accepted: ${probe.detail}`);
  if (!probe.reachable) {
    if (probe.reason === "NoCredentials") return fail("target", probe.detail, credentialFix(config, probe));
    if (config.upload_url?.startsWith("file:")) return fail("target", `${probe.detail}`, "create the folder (mkdir -p) or mount the disk it is on");
    return fail(
      "target",
      `unreachable: ${probe.detail}`,
      "check the address in upload_url (and ?endpoint=), that the server runs, and the network, proxy and firewall between",
    );
  }
  const refused = ["InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidToken", "http_401", "http_403"].includes(
    probe.reason ?? "",
  );
  if (refused) return fail("target", `credentials refused: ${probe.detail}`, credentialFix(config, probe));
  if (probe.reason === "NoSuchBucket") return fail("target", probe.detail, "create the bucket, or correct its name in upload_url");
  if (config.upload_url?.startsWith("file:"))
    return fail("target", `not writable: ${probe.detail}`, "make the folder writable by this user, or mount it read-write");
  return fail("target", probe.detail, "check upload_url and the server's own log for why it refused");
}

export function clockCheck(probe: TargetFacts | null): CheckResult {
  if (!probe) return pass("clock", "not checked: no upload target to compare with");
  if (probe.serverDateMs === undefined || probe.localDateMs === undefined)
    return pass(
      "clock",
      `not checked: ${probe.reason === "NoCredentials" ? "no request could be signed" : probe.reachable ? "the target gave no Date" : "the target is unreachable"}`,
    );
  // The Date header has whole seconds: half a second either way is no skew.
  const skew = (probe.localDateMs - probe.serverDateMs) / 1000;
  const shown = `${Math.abs(skew).toFixed(0)} s ${skew > 0 ? "ahead of" : "behind"} the target's`;
  if (Math.abs(skew) <= MAX_SKEW_S) return pass("clock", Math.abs(skew) < 1.5 ? "agrees with the target's Date" : `this clock is ${shown}`);
  return fail(
    "clock",
    `this clock is ${shown} (more than ${MAX_SKEW_S} s): signed requests may be refused and recording times are off`,
    "sync the clock: sudo timedatectl set-ntp true (or chronyc makestep / sntp -sS time.apple.com), or fix the target's",
  );
}
