import { describe, expect, test } from "bun:test";
import { resolveS3Settings } from "../../../src/uploader/s3/s3-settings.ts";
import { ConfigError } from "../../../src/errors.ts";

const files = (map: Record<string, string>) => (p: string) => map[p];
const none = () => undefined;

describe("resolveS3Settings", () => {
  test("splits bucket and prefix and defaults to AWS us-east-1 with virtual-hosted style", () => {
    const s = resolveS3Settings("s3://my-bucket/robots/data/", { HOME: "/h" }, none);
    expect(s).toMatchObject({
      bucket: "my-bucket",
      prefix: "robots/data",
      region: "us-east-1",
      endpoint: "https://s3.us-east-1.amazonaws.com",
      pathStyle: false,
    });
    expect(s.credentials).toBeUndefined();
  });
  test("takes credentials and region from the environment first", () => {
    const s = resolveS3Settings(
      "s3://b",
      { AWS_ACCESS_KEY_ID: "AK", AWS_SECRET_ACCESS_KEY: "SK", AWS_SESSION_TOKEN: "T", AWS_REGION: "eu-west-1", HOME: "/h" },
      files({ "/h/.aws/credentials": "[default]\naws_access_key_id=FILE\naws_secret_access_key=FILE\n" }),
    );
    expect(s.credentials).toEqual({ accessKeyId: "AK", secretAccessKey: "SK", sessionToken: "T" });
    expect(s.region).toBe("eu-west-1");
    expect(s.endpoint).toBe("https://s3.eu-west-1.amazonaws.com");
    expect(s.credentialsSource).toBe("environment");
  });
  test("reads the shared credentials file for the profile named by AWS_PROFILE", () => {
    const creds =
      "[default]\naws_access_key_id = D\naws_secret_access_key = DS\n\n[robot]\naws_access_key_id = R\naws_secret_access_key = RS\naws_session_token = RT\n";
    const conf = "[profile robot]\nregion = ap-south-1\n";
    const s = resolveS3Settings("s3://b/p", { HOME: "/h", AWS_PROFILE: "robot" }, files({ "/h/.aws/credentials": creds, "/h/.aws/config": conf }));
    expect(s.credentials).toEqual({ accessKeyId: "R", secretAccessKey: "RS", sessionToken: "RT" });
    expect(s.region).toBe("ap-south-1");
    expect(s.credentialsSource).toContain("robot");
    const d = resolveS3Settings("s3://b/p", { HOME: "/h" }, files({ "/h/.aws/credentials": creds }));
    expect(d.credentials?.accessKeyId).toBe("D");
  });
  test("honours AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE", () => {
    const s = resolveS3Settings(
      "s3://b",
      { AWS_SHARED_CREDENTIALS_FILE: "/c", AWS_CONFIG_FILE: "/f" },
      files({ "/c": "[default]\naws_access_key_id=C\naws_secret_access_key=CS\n", "/f": "[default]\nregion=us-west-2\n" }),
    );
    expect(s.credentials?.accessKeyId).toBe("C");
    expect(s.region).toBe("us-west-2");
  });
  test("an empty environment variable counts as unset", () => {
    const s = resolveS3Settings(
      "s3://b",
      { AWS_ACCESS_KEY_ID: "", AWS_SECRET_ACCESS_KEY: "", AWS_REGION: "", HOME: "/h" },
      files({ "/h/.aws/credentials": "[default]\naws_access_key_id=F\naws_secret_access_key=FS\n" }),
    );
    expect(s.credentials?.accessKeyId).toBe("F");
    expect(s.region).toBe("us-east-1");
  });
  test("a custom endpoint from AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or ?endpoint= turns on path style", () => {
    expect(resolveS3Settings("s3://b", { AWS_ENDPOINT_URL: "http://127.0.0.1:9000/" }, none)).toMatchObject({
      endpoint: "http://127.0.0.1:9000",
      pathStyle: true,
    });
    expect(resolveS3Settings("s3://b", { AWS_ENDPOINT_URL: "http://a:1", AWS_ENDPOINT_URL_S3: "http://s3:2" }, none).endpoint).toBe("http://s3:2");
    expect(resolveS3Settings("s3://b?endpoint=http://q:3", { AWS_ENDPOINT_URL_S3: "http://s3:2" }, none)).toMatchObject({
      endpoint: "http://q:3",
      pathStyle: true,
    });
  });
  test("?path_style=false keeps virtual-hosted style on a custom endpoint, and ?path_style=true forces path style", () => {
    expect(resolveS3Settings("s3://b?endpoint=http://q:3&path_style=false", {}, none).pathStyle).toBe(false);
    expect(resolveS3Settings("s3://b?path_style=true", {}, none).pathStyle).toBe(true);
  });
  test("?region= wins over the environment", () => {
    expect(resolveS3Settings("s3://b?region=eu-north-1", { AWS_REGION: "us-west-1" }, none).region).toBe("eu-north-1");
  });
  test("a URL that is not s3:// or names no bucket is a config error", () => {
    expect(() => resolveS3Settings("http://b", {}, none)).toThrow(ConfigError);
    expect(() => resolveS3Settings("s3:///prefix", {}, none)).toThrow(ConfigError);
    expect(() => resolveS3Settings("s3://b?endpoint=ftp://x", {}, none)).toThrow(ConfigError);
  });
});
