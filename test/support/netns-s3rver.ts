// s3rver on a given address and port, as its own process: started under `ip netns exec` by
// the metered-link test, so the target lives in a network namespace of its own. Prints
// "ready" once it listens; stops on SIGTERM.
// @ts-expect-error s3rver ships no types
import S3rver from "s3rver";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [address, port, bucket] = process.argv.slice(2);
const directory = mkdtempSync(join(tmpdir(), "ncd-s3rver-ns-"));
const server = new S3rver({ address, port: Number(port), silent: true, directory, configureBuckets: [{ name: bucket }] });
await server.run();
console.log("ready");
process.on("SIGTERM", async () => {
  await server.close();
  rmSync(directory, { recursive: true, force: true });
  process.exit(0);
});
