// Trace declarations as SDK users write them: a schema may be text or bytes. Bytes (a protobuf
// FileDescriptorSet, a flatbuffer .bfbs, or any schema that must arrive byte for byte) travel
// as schema_base64, since a JSON string cannot carry arbitrary bytes.
import { Buffer } from "node:buffer";
import type { CreateRecordingInput, TraceDeclaration } from "../api/index.ts";

export interface SdkTraceDeclaration extends Omit<TraceDeclaration, "schema"> {
  /** Text (ros2msg, jsonschema...) or bytes (protobuf FileDescriptorSet...), stored exactly. */
  schema?: string | Uint8Array;
}

export interface SdkCreateRecordingInput extends Omit<CreateRecordingInput, "traces"> {
  traces?: SdkTraceDeclaration[];
}

function toWireTrace(t: SdkTraceDeclaration): TraceDeclaration {
  if (!(t.schema instanceof Uint8Array)) return t as TraceDeclaration;
  const { schema, ...rest } = t;
  return { ...rest, schema_base64: Buffer.from(schema.buffer, schema.byteOffset, schema.byteLength).toString("base64") };
}

export function toWireInput(input: SdkCreateRecordingInput): CreateRecordingInput {
  return input.traces ? { ...input, traces: input.traces.map(toWireTrace) } : (input as CreateRecordingInput);
}
