// Validates a manifest against docs/manifest.schema.json with Ajv (a validator the project did
// not write), so every manifest a test reads is held to the documented schema.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import Ajv from "ajv";

const schema = JSON.parse(readFileSync(resolve(import.meta.dir, "../../docs/manifest.schema.json"), "utf8"));
const validate = new Ajv({ allErrors: true, strict: true, validateFormats: false }).compile(schema);

/** Throws, listing every violation, when `doc` does not follow docs/manifest.schema.json. */
export function assertValidManifest(doc: unknown): void {
  if (validate(doc)) return;
  throw new Error(
    `manifest does not follow docs/manifest.schema.json:\n${(validate.errors ?? []).map((e) => `  ${e.instancePath || "/"} ${e.message}`).join("\n")}`,
  );
}
