// Small schemas the answers share.
import * as v from "valibot";

export const int = v.pipe(v.number(), v.integer());
export const time = v.pipe(v.string(), v.description("ISO 8601, UTC."));
export const nullableText = v.nullable(v.string());
