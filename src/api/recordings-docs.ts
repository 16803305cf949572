// The answers of /v1/recordings as OpenAPI describes them (the requests are described by the
// schemas that check them, in recordings.ts). docs/api.md has the prose and examples.

import type { ContentWithResolver, DescribeRouteOptions } from "hono-openapi";

type Response = NonNullable<DescribeRouteOptions["responses"]>[string];
type Schema = NonNullable<ContentWithResolver[string]["schema"]>;

const json = (description: string, schema: object): Response => ({ description, content: { "application/json": { schema: schema as Schema } } });

const FAILURES: Record<number, string> = {
  400: "Bad input; the field is named",
  404: "Unknown recording",
  409: "The recording is not in a state that allows this",
  413: "Body, batch or message too large",
  507: "Storage full",
};

/** Error answers in the API's one error shape. */
export const failures = (...codes: number[]): Record<number, Response> =>
  Object.fromEntries(
    codes.map((code) => [code, { description: FAILURES[code]!, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } }]),
  );

export const idParam = { name: "id", in: "path" as const, required: true, schema: { type: "string" as const }, description: "Recording id (UUIDv7)." };
export const binaryBody = { schema: { type: "string" as const, format: "binary" } };

const STATES = { type: "string" };
const recording = {
  type: "object",
  required: ["id", "state"],
  properties: {
    id: { type: "string" },
    state: STATES,
    name: { type: ["string", "null"] },
    dataset: { type: ["string", "null"] },
    robot_id: { type: ["string", "null"] },
    metadata: { type: "object" },
    message_count: { type: "integer" },
    bytes: { type: "integer" },
    local_bytes: { type: "integer" },
    error: { type: ["string", "null"] },
    traces: { type: "array", items: { type: "object" } },
    files: { type: "array", items: { type: "object" } },
    segments: { type: "array", items: { type: "object" } },
    upload: {
      type: "object",
      properties: {
        objects: { type: "integer" },
        uploaded: { type: "integer" },
        failed: { type: "integer" },
        bytes_total: { type: "integer" },
        bytes_sent: { type: "integer" },
        state: { type: ["string", "null"] },
        last_error: { type: ["string", "null"], description: "The latest failed attempt's reason (redacted), while objects are still to send." },
        attempts: { type: "integer", description: "The most attempts an object still to send has had." },
        next_retry_at: { type: ["string", "null"], format: "date-time", description: "When the next attempt is due, while one waits." },
      },
    },
    remote: { type: "object", properties: { location: { type: "string" }, key: { type: "string" } } },
    upload_progress: { type: ["object", "null"] },
  },
};

export const recordingAnswer = json("The recording", recording);
export const answers = {
  list: json("A page", { type: "object", properties: { items: { type: "array", items: recording }, next_cursor: { type: ["string", "null"] } } }),
  append: json("Accepted", {
    type: "object",
    properties: { accepted: { type: "integer" }, traces: { type: "object", additionalProperties: { type: "integer" } } },
  }),
  stored: json("Stored", { type: "object", properties: { name: { type: "string" }, bytes: { type: "integer" }, sha256: { type: "string" } } }),
};
