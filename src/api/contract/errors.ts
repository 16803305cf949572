// The one error body of the whole API. The daemon's onError builds it (api/errors.ts), the
// client reads it (client/errors.ts), and the OpenAPI document names it as the Error component.
import * as v from "valibot";

export const ErrorBodySchema = v.pipe(
  v.strictObject({
    error: v.strictObject({
      code: v.pipe(v.string(), v.description("Stable, for scripts: bad_request, not_found, conflict, too_large, storage_full, unavailable, internal.")),
      message: v.pipe(v.string(), v.description("For people: what is wrong and what is allowed.")),
      field: v.optional(v.pipe(v.string(), v.description("The field, parameter or NDJSON line at fault, when there is one."))),
    }),
  }),
  v.metadata({ ref: "Error" }),
);

export type ErrorBody = v.InferOutput<typeof ErrorBodySchema>;
