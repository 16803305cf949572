// s3rver with the fault proxy in front of it, for one test file: started as the file loads,
// closed after its last test.
import { afterAll } from "bun:test";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.ts";
import { startS3rver, type RunningS3rver } from "./s3rver.ts";

/**
 * Starts s3rver with `buckets` and the fault proxy in front of it, and closes both once the
 * file's tests are done (its own afterAll, daemons to stop say, may run before or after).
 * @example
 * const { s3, proxy } = await s3rverBehindProxy(["bkt"]);
 * test("a 503 is retried", async () => { proxy.setFaults(() => ({ kind: "status", status: 503 })); ... });
 */
export async function s3rverBehindProxy(buckets: string[]): Promise<{ s3: RunningS3rver; proxy: FaultProxy }> {
  const s3 = await startS3rver(buckets);
  const proxy = await startFaultProxy(s3.endpoint);
  afterAll(async () => {
    await proxy.close();
    await s3.stop();
  });
  return { s3, proxy };
}
