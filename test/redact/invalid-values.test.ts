// A secret inside an invalid value (a password in a bad upload_url, an S3 secret in its
// userinfo, credentials in its endpoint= query) is never shown back: not in the error of
// `update`, `config validate` or `launch` (foreground or background), and not in the log,
// which for a service is the journal.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { killAll } from "../daemon/helpers.ts";
import { run, tempHome } from "../support/binary.ts";

const SECRETS = ["Pa55-word-secret", "AKIAIOSFODNN7EXAMPLE", "K7MDENG/bPxRfiCY", "minio-secret-123", "ss-w0rd-secret"];
const BAD_URLS = [
  "ftp://alice:Pa55-word-secret@host/x",
  "s3://AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY@my-bucket/p",
  "s3://Bad_Bucket/p?endpoint=http://minio:minio-secret-123@127.0.0.1:9000",
  "ftp://bob:p@ss-w0rd-secret@host",
];

const homes: string[] = [];
afterAll(async () => {
  for (const h of homes) await killAll(h);
});

const leaked = (text: string) => SECRETS.filter((s) => text.includes(s));

function logOf(home: string): string {
  try {
    return readFileSync(join(home, ".neuracore/data_daemon/logs/daemon.log"), "utf8");
  } catch {
    return "";
  }
}

describe("an invalid upload_url holding a secret", () => {
  for (const url of BAD_URLS) {
    test(`is refused without echoing its secret: ${url.slice(0, 24)}...`, async () => {
      const home = tempHome();
      homes.push(home);
      const dir = join(home, ".neuracore/data_daemon/profiles");
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      writeFileSync(join(dir, "bad.yaml"), `upload_url: ${JSON.stringify(url)}\n`, { mode: 0o600 });
      const runs = [
        await run(["update", "--upload-url", url], { home }),
        await run(["update"], { home, env: { NCD_UPLOAD_URL: url } }),
        await run(["config", "validate", "--profile", "bad"], { home }),
        await run(["launch", "--upload-url", url], { home }),
        await run(["launch", "--background", "--upload-url", url], { home }),
        await run(["launch", "--background", "--profile", "bad"], { home }),
      ];
      for (const r of runs) {
        expect(r.code).toBe(1);
        expect(r.stderr).toContain("Invalid upload_url");
        expect(r.stderr).toContain("***@");
        expect(leaked(r.stdout + r.stderr)).toEqual([]);
      }
      expect(leaked(logOf(home))).toEqual([]);
    });
  }
});

test("a URL the field's pattern accepts but whose password holds a raw '/' is masked in status and the log", async () => {
  const home = tempHome();
  homes.push(home);
  const url = "https://robot:se/cret-pass-99@127.0.0.1:9/files/";
  const launched = await run(["launch", "--background", "--upload-url", url], { home });
  expect(launched.code).toBe(0);
  const status = await run(["status", "--json"], { home });
  const config = await run(["config", "show", "--upload-url", url], { home });
  await run(["stop"], { home });
  for (const text of [launched.stdout + launched.stderr, status.stdout, config.stdout, logOf(home)]) expect(text).not.toContain("cret-pass-99");
  expect(JSON.parse(status.stdout).config.upload_url).toBe("https://robot:***@127.0.0.1:9/files/");
});
