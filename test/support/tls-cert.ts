// A private CA and a server certificate it signed, for 127.0.0.1 and localhost, made with
// openssl: what a fleet's own CA looks like to a client (rustls, under Deno, refuses a
// self-signed certificate that is its own CA), for https servers under test.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCert {
  /** The folder holding the files (private, removed by remove()). */
  dir: string;
  /** The CA's certificate (PEM file): what a client is told to trust. */
  caPath: string;
  /** The server's PEM key and certificate. */
  cert: string;
  key: string;
  remove(): void;
}

function openssl(args: string[]): void {
  const r = Bun.spawnSync(["openssl", ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
}

export function makeTestCert(): TestCert {
  const dir = mkdtempSync(join(tmpdir(), "ncd-tls-"));
  const at = (name: string) => join(dir, name);
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(["req", "-x509", ...ec, "-keyout", at("ca.key"), "-out", at("ca.pem"), "-days", "2", "-subj", "/CN=nc-data-daemon test CA"]);
  openssl(["req", ...ec, "-keyout", at("key.pem"), "-out", at("server.csr"), "-subj", "/CN=127.0.0.1"]);
  writeFileSync(
    at("server.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
  );
  openssl([
    "x509",
    "-req",
    "-in",
    at("server.csr"),
    "-CA",
    at("ca.pem"),
    "-CAkey",
    at("ca.key"),
    "-CAcreateserial",
    "-out",
    at("cert.pem"),
    "-days",
    "2",
    "-extfile",
    at("server.ext"),
  ]);
  return {
    dir,
    caPath: at("ca.pem"),
    cert: readFileSync(at("cert.pem"), "utf8"),
    key: readFileSync(at("key.pem"), "utf8"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
