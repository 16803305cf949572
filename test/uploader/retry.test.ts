import { describe, expect, test } from "bun:test";
import { backoffMs, classify, defaultRetryPolicy } from "../../src/uploader/retry.ts";
import { createRetryTimers } from "../../src/uploader/retry-timers.ts";
import { TargetError, type Protocol } from "../../src/uploader/target-error.ts";

const err = (protocol: Protocol, status?: number, code?: string, network = false) => new TargetError("x", { protocol, status, code, network });

describe("classify", () => {
  test("network errors, 408, 429 and every 5xx are retried", () => {
    expect(classify(err("s3", undefined, undefined, true))).toBe("retry");
    expect(classify(err("tus", undefined, undefined, true))).toBe("retry");
    for (const s of [408, 429, 500, 502, 503, 504]) expect(classify(err("s3", s))).toBe("retry");
    for (const s of [408, 429, 500, 503]) expect(classify(err("tus", s))).toBe("retry");
  });
  test("an error that is not a TargetError (local I/O) is retried", () => {
    expect(classify(new Error("EIO"))).toBe("retry");
  });
  test("S3 clock skew is cured by fixing the clock", () => {
    expect(classify(err("s3", 403, "RequestTimeTooSkewed"))).toBe("fix-clock");
  });
  test("S3 expired tokens are cured by refreshing credentials", () => {
    expect(classify(err("s3", 400, "ExpiredToken"))).toBe("refresh-credentials");
    expect(classify(err("s3", 403, "ExpiredTokenException"))).toBe("refresh-credentials");
  });
  test("an S3 upload id the server forgot restarts the upload", () => {
    expect(classify(err("s3", 404, "NoSuchUpload"))).toBe("restart-upload");
  });
  test("S3 SlowDown and InternalError are transient whatever the status", () => {
    expect(classify(err("s3", 503, "SlowDown"))).toBe("retry");
    expect(classify(err("s3", 200, "InternalError"))).toBe("retry");
  });
  test("other S3 4xx are permanent", () => {
    expect(classify(err("s3", 403, "SignatureDoesNotMatch"))).toBe("fail");
    expect(classify(err("s3", 403, "AccessDenied"))).toBe("fail");
    expect(classify(err("s3", 404, "NoSuchBucket"))).toBe("fail");
    expect(classify(err("s3", 400, "EntityTooSmall"))).toBe("fail");
  });
  test("tus 409 asks the offset again, 404 and 410 create the upload again, 423 waits", () => {
    expect(classify(err("tus", 409))).toBe("reoffset");
    expect(classify(err("tus", 404))).toBe("restart-upload");
    expect(classify(err("tus", 410))).toBe("restart-upload");
    expect(classify(err("tus", 423))).toBe("wait");
  });
  test("other tus 4xx are permanent", () => {
    expect(classify(err("tus", 401))).toBe("fail");
    expect(classify(err("tus", 403))).toBe("fail");
    expect(classify(err("tus", 413))).toBe("fail");
  });
});

describe("backoff", () => {
  const policy = { baseMs: 100, capMs: 1000, maxAttempts: 5 };
  test("grows exponentially with jitter between half and all of the step", () => {
    expect(backoffMs(policy, 1, () => 0)).toBe(50);
    expect(backoffMs(policy, 1, () => 1)).toBe(100);
    expect(backoffMs(policy, 3, () => 0)).toBe(200);
    expect(backoffMs(policy, 3, () => 1)).toBe(400);
  });
  test("never exceeds the cap", () => {
    for (let a = 1; a < 40; a++) expect(backoffMs(policy, a, Math.random)).toBeLessThanOrEqual(1000);
  });
  test("honours a server's Retry-After up to the cap", () => {
    expect(backoffMs(policy, 1, () => 0, 700)).toBe(700);
    expect(backoffMs(policy, 1, () => 0, 5000)).toBe(1000);
  });
  test("the default policy caps at five minutes", () => {
    expect(backoffMs(defaultRetryPolicy, 100, () => 1)).toBe(300_000);
  });
});

describe("retry timers", () => {
  test("a backoff is measured on the monotonic clock: a wall clock stepped a day forward or back does not end or stretch it", () => {
    let wall = Date.now();
    let mono = 1000;
    const clock = { now: () => wall, monotonic: () => mono, sleep: async () => {} };
    const timers = createRetryTimers(clock, () => {});
    timers.set("a", 1, 60_000);
    wall += 86_400_000;
    expect(timers.inBackoff("a")).toBe(true);
    wall -= 2 * 86_400_000;
    mono += 60_001;
    expect(timers.inBackoff("a")).toBe(false);
    timers.clearAll();
  });
});
