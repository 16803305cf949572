// `record start --schema-file PATH`: the one declared trace's schema, read as bytes and sent as
// schema_base64, so a binary schema (a protobuf FileDescriptorSet) arrives byte for byte.
import { readFileSync } from "node:fs";
import type { ArgsDef } from "citty";
import type { SdkTraceDeclaration } from "../client/index.ts";
import { UsageError } from "../errors.ts";

export const schemaArgs = {
  "schema-file": {
    type: "string",
    description: "Schema of the one --trace, read as bytes (e.g. a protobuf FileDescriptorSet, a JSON Schema).",
    valueHint: "path",
  },
  "schema-name": { type: "string", description: "Schema name for --schema-file, e.g. my.pkg.Pose.", valueHint: "name" },
  "schema-encoding": {
    type: "string",
    description: "Schema encoding for --schema-file (default from the trace's encoding: protobuf, flatbuffer, jsonschema for json).",
    valueHint: "encoding",
  },
} as const satisfies ArgsDef;

const DEFAULT_SCHEMA_ENCODING: Record<string, string> = { protobuf: "protobuf", flatbuffer: "flatbuffer", json: "jsonschema" };

/** Adds --schema-file (with its name and encoding) to the one declared trace. */
export function withSchemaFile(traces: SdkTraceDeclaration[] | undefined, a: Record<string, unknown>): SdkTraceDeclaration[] | undefined {
  const path = a["schema-file"] as string | undefined;
  if (path === undefined) {
    if (a["schema-name"] !== undefined || a["schema-encoding"] !== undefined)
      throw new UsageError("--schema-name and --schema-encoding go with --schema-file PATH.");
    return traces;
  }
  if (traces?.length !== 1) throw new UsageError("--schema-file needs exactly one --trace NAME:ENCODING, the trace it describes.");
  const name = a["schema-name"] as string | undefined;
  if (!name) throw new UsageError("--schema-file needs --schema-name, e.g. --schema-name my.pkg.Pose.");
  const t = traces[0]!;
  const encoding = (a["schema-encoding"] as string | undefined) ?? DEFAULT_SCHEMA_ENCODING[t.encoding];
  if (!encoding) throw new UsageError(`--schema-file: give --schema-encoding for a trace encoded ${t.encoding} (e.g. ros2msg, omgidl).`);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (err) {
    throw new UsageError(`--schema-file ${path} cannot be read: ${(err as Error).message}`);
  }
  return [{ ...t, schema_name: name, schema_encoding: encoding, schema: bytes }];
}
