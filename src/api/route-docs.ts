// How a route's answers are described for hono-openapi: each from its schema in the contract
// (api/contract/), so /v1/openapi.json says what the route returns and nothing is written twice.
// docs/api.md has the prose and examples.
import { resolver, type DescribeRouteOptions } from "hono-openapi";
import type * as v from "valibot";
import { ErrorBodySchema } from "./contract.ts";

type Response = NonNullable<DescribeRouteOptions["responses"]>[string];

/** valibot's `custom` checks have no JSON Schema of their own: they say what they are in their metadata. */
export const openapiOptions = { errorMode: "ignore" as const };

/** An answer of `schema`, as JSON unless another media type is given (an event stream's events, text). */
export const answer = (description: string, schema: v.GenericSchema, type = "application/json"): Response => ({
  description,
  content: { [type]: { schema: resolver(schema, openapiOptions) } },
});

const FAILURES: Record<number, string> = {
  400: "Bad input; the field is named",
  404: "Unknown recording",
  409: "Not in a state that allows this",
  413: "Body, batch or message too large",
  503: "The recordings store is not open (starting, stopping or failed to open)",
  507: "Storage full",
};

/** Error answers, all in the API's one error body. */
export const failures = (...codes: number[]): Record<number, Response> =>
  Object.fromEntries(codes.map((code) => [code, answer(FAILURES[code]!, ErrorBodySchema)]));

export const idParam = { name: "id", in: "path" as const, required: true, schema: { type: "string" as const }, description: "Recording id (UUIDv7)." };
export const binaryBody = { schema: { type: "string" as const, format: "binary" } };
