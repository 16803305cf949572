// The detached daemon's command line (readable by every user) carries no secret flag: they
// travel in its environment and come back among its flags there.
import { expect, test } from "bun:test";
import { childLaunch, withSecretFlags } from "../../src/cli/process-control.ts";

test("--api-key and any URL with a password go by the environment, the rest by argv, and come back whole", () => {
  for (const url of ["http://robot:pw-1@127.0.0.1:9/files", "s3://b/p?endpoint=http://u:pw-1@127.0.0.1:9&path_style=true"]) {
    const values = { "upload-url": url, "api-key": "pw-1", "num-threads": "2", background: true };
    const { args, env } = childLaunch(values, { HOME: "/h" });
    expect(args).toEqual(["--num-threads=2"]);
    expect(JSON.stringify(args)).not.toContain("pw-1");
    expect(withSecretFlags<Record<string, unknown>>({ "num-threads": "2" }, { ...env })).toEqual({ "num-threads": "2", "upload-url": url, "api-key": "pw-1" });
  }
  // Without a password, a URL stays a plain flag.
  expect(childLaunch({ "upload-url": "s3://b/p?endpoint=http://127.0.0.1:9" }, {}).args).toEqual(["--upload-url=s3://b/p?endpoint=http://127.0.0.1:9"]);
});
