// A trace's schema as bytes. The JSON API carries it either as text (`schema`: ros2msg,
// jsonschema, omgidl...) or as base64 (`schema_base64`: any bytes, required for the binary
// schema encodings). Both become the exact bytes stored in the database and written into the
// MCAP Schema record, so a protobuf FileDescriptorSet comes back byte for byte.
import { Buffer } from "node:buffer";
import { ConflictError, ValidationError } from "../../errors.ts";
import type { TraceDeclaration } from "../types.ts";

/** MCAP schema encodings whose schema data is binary, never text. */
const BINARY_SCHEMA_ENCODINGS = new Set(["protobuf", "flatbuffer"]);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The declaration's schema bytes, or null when it declares none; throws on a bad declaration. */
export function schemaBytes(t: TraceDeclaration, field = "traces[0]"): Uint8Array | null {
  if (t.schema !== undefined && t.schema_base64 !== undefined) {
    throw new ValidationError(
      `Field ${field}.schema_base64: give the schema once, as schema (text) or schema_base64 (bytes), not both.`,
      `${field}.schema_base64`,
    );
  }
  const binary = BINARY_SCHEMA_ENCODINGS.has(t.schema_encoding ?? t.encoding);
  if (t.schema !== undefined) {
    if (binary) {
      const enc = t.schema_encoding ?? t.encoding;
      throw new ValidationError(
        `Field ${field}.schema: a ${enc} schema is binary (${enc === "protobuf" ? "a serialized FileDescriptorSet" : "a .bfbs file"}) and cannot travel as text; send it base64-encoded as schema_base64.`,
        `${field}.schema`,
      );
    }
    return new TextEncoder().encode(t.schema);
  }
  if (t.schema_base64 !== undefined) {
    if (typeof t.schema_base64 !== "string" || !BASE64.test(t.schema_base64)) {
      throw new ValidationError(`Field ${field}.schema_base64: not standard base64 (A-Z a-z 0-9 + /, padded with =).`, `${field}.schema_base64`);
    }
    return new Uint8Array(Buffer.from(t.schema_base64, "base64"));
  }
  return null;
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/**
 * The same trace declared twice: identical declarations are one (400, a plain duplicate); the
 * same name with another schema or encoding contradicts the first (409).
 */
export function conflictingDeclaration(first: TraceDeclaration, second: TraceDeclaration, field: string): Error {
  const differs =
    first.encoding !== second.encoding ||
    (first.schema_name ?? null) !== (second.schema_name ?? null) ||
    (first.schema_encoding ?? null) !== (second.schema_encoding ?? null) ||
    !sameBytes(schemaBytes(first, field), schemaBytes(second, field));
  if (differs)
    return new ConflictError(
      `Field ${field}: trace ${JSON.stringify(second.name)} is declared twice with a different schema or encoding; declare each trace once.`,
    );
  return new ValidationError(`Field ${field}.name: trace ${JSON.stringify(second.name)} is declared twice.`, `${field}.name`);
}

/** The column's type (drizzle's blob in buffer mode). */
export const bufferOf = (bytes: Uint8Array | null): Buffer | null => (bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

/** The traces row of a trace declared at create (or read back from recording.json by the repair). */
export function declaredTraceRow(recordingId: string, t: TraceDeclaration, createdAt: number) {
  return {
    recording_id: recordingId,
    name: t.name,
    encoding: t.encoding,
    schema_name: t.schema_name ?? null,
    schema_encoding: t.schema_encoding ?? null,
    schema: bufferOf(schemaBytes(t)),
    created_at: createdAt,
  };
}
