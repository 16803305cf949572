// OpenAPI path items for /v1/recordings, merged into /v1/openapi.json by whoever mounts the
// routes. Kept beside recordingsRoutes so that a change to one is seen next to the other;
// docs/api.md has the prose and examples.

const error = (description: string) => ({ description, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
const json = (description: string, schema: unknown = { type: "object" }) => ({ description, content: { "application/json": { schema } } });
const id = { name: "id", in: "path", required: true, schema: { type: "string" }, description: "Recording id (UUIDv7)." };
const STATES = ["recording", "finalizing", "pending_upload", "uploading", "uploaded", "failed", "cancelled"];

const recording = {
  type: "object",
  required: ["id", "state"],
  properties: {
    id: { type: "string" },
    state: { enum: STATES },
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
    upload: { type: "object" },
  },
};
const trace = {
  type: "object",
  required: ["name", "encoding"],
  properties: { name: { type: "string" }, encoding: { type: "string" }, schema_name: { type: "string" }, schema_encoding: { type: "string" }, schema: { type: "string", description: "Text schema." }, schema_base64: { type: "string", format: "byte", description: "Schema bytes, base64; required for protobuf and flatbuffer." } },
  additionalProperties: false,
};
const createBody = {
  type: "object",
  additionalProperties: false,
  properties: { name: { type: "string", maxLength: 255 }, dataset: { type: "string", maxLength: 255 }, robot_id: { type: "string", maxLength: 255 }, metadata: { type: "object" }, traces: { type: "array", items: trace } },
};
const appendResult = { type: "object", properties: { accepted: { type: "integer" }, traces: { type: "object", additionalProperties: { type: "integer" } } } };
const stored = { type: "object", properties: { name: { type: "string" }, bytes: { type: "integer" }, sha256: { type: "string" } } };

export const recordingsOpenapi: Record<string, unknown> = {
  "/v1/recordings": {
    post: {
      summary: "Create a recording.",
      requestBody: { content: { "application/json": { schema: createBody } } },
      responses: { 201: json("The recording", recording), 400: error("Bad field (named)"), 507: error("Storage full") },
    },
    get: {
      summary: "List recordings, newest first.",
      parameters: [
        { name: "state", in: "query", schema: { enum: STATES } },
        { name: "limit", in: "query", schema: { type: "integer", minimum: 1, maximum: 1000, default: 50 } },
        { name: "cursor", in: "query", schema: { type: "string" }, description: "next_cursor of the previous page." },
      ],
      responses: { 200: json("A page", { type: "object", properties: { items: { type: "array", items: recording }, next_cursor: { type: ["string", "null"] } } }), 400: error("Bad query parameter") },
    },
  },
  "/v1/recordings/{id}": {
    get: { summary: "One recording: state, traces, files, segments, upload progress, remote location.", parameters: [id], responses: { 200: json("The recording", recording), 404: error("Unknown recording") } },
  },
  "/v1/recordings/{id}/messages": {
    post: {
      summary: "Append a batch of messages, all or nothing; answered once durable.",
      parameters: [id],
      requestBody: {
        content: {
          "application/x-ndjson": { schema: { type: "string" }, example: '{"trace":"/joints","timestamp":1700000000.5,"data":{"q":[0.1,0.2]}}\n' },
          "application/vnd.ncd.frames": { schema: { type: "string", format: "binary" } },
        },
      },
      responses: {
        200: json("Accepted", appendResult),
        400: error("Bad line or frame (named)"),
        404: error("Unknown recording"),
        409: error("The recording no longer accepts writes"),
        413: error("Batch or message too large"),
        507: error("Storage full"),
      },
    },
  },
  "/v1/recordings/{id}/files/{name}": {
    put: {
      summary: "Store a whole file, streamed; answered once durable.",
      parameters: [id, { name: "name", in: "path", required: true, schema: { type: "string", pattern: "^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$" } }],
      requestBody: { content: { "*/*": { schema: { type: "string", format: "binary" } } } },
      responses: { 201: json("Stored", stored), 400: error("Bad file name"), 404: error("Unknown recording"), 409: error("Name taken, or no longer accepts writes"), 507: error("Storage full") },
    },
  },
  "/v1/recordings/{id}/stop": {
    post: { summary: "Stop: close the segment, write the manifest, queue the upload.", parameters: [id], responses: { 200: json("The recording", recording), 404: error("Unknown recording"), 409: error("Cancelled") } },
  },
  "/v1/recordings/{id}/cancel": {
    post: {
      summary: "Cancel: abort uploads and delete local data. Needs {\"confirm\": true}.",
      parameters: [id],
      requestBody: { content: { "application/json": { schema: { type: "object", properties: { confirm: { const: true } } } } } },
      responses: { 200: json("The recording", recording), 400: error("Not confirmed"), 404: error("Unknown recording"), 409: error("Uploading or uploaded") },
    },
  },
  "/v1/recordings/{id}/retry": {
    post: { summary: "Queue the failed uploads again.", parameters: [id], responses: { 200: json("The recording", recording), 404: error("Unknown recording"), 409: error("Uploaded or cancelled") } },
  },
};
