// Request input checked against a valibot schema, with this API's own rules and messages (a
// bounded body, bounded nesting, the field named in every refusal). Each check also carries
// its schema for hono-openapi, so /v1/openapi.json describes exactly what is validated, and
// its input type for `hc`, so the client is typed by the same schema.
import type { MiddlewareHandler } from "hono";
import { resolver, uniqueSymbol } from "hono-openapi";
import * as v from "valibot";
import { ValidationError } from "../errors.ts";
import { MAX_JSON_DEPTH, tooDeepLineAt } from "../recordings/input/json-depth.ts";
import { readBody, type BodyLimit } from "./body.ts";
import { openapiOptions } from "./route-docs.ts";

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The keys a (nested) strict object schema allows, for "unknown field" messages. */
function allowedKeys(schema: v.GenericSchema, path: readonly { key: unknown }[]): string[] {
  let node: unknown = schema;
  for (const step of path) {
    const n = node as { entries?: Record<string, unknown>; item?: unknown; wrapped?: unknown };
    const inner = (n.wrapped ?? n) as { entries?: Record<string, unknown>; item?: unknown };
    node = typeof step.key === "number" ? inner.item : inner.entries?.[String(step.key)];
    node = (node as { wrapped?: unknown })?.wrapped ?? node;
  }
  const entries = ((node as { wrapped?: unknown })?.wrapped ?? node) as { entries?: Record<string, unknown> };
  return Object.keys(entries?.entries ?? {});
}

/** The value, or a ValidationError naming the first field that is wrong and what is allowed. */
function checked<S extends v.GenericSchema>(schema: S, raw: unknown): v.InferOutput<S> {
  const r = v.safeParse(schema, raw);
  if (r.success) return r.output;
  const issue = r.issues[0]!;
  const field = v.getDotPath(issue) ?? "body";
  // A strict object reports an unknown key as "expected never"; say what is allowed instead.
  if (issue.expected === "never") {
    const parent =
      issue.path
        ?.slice(0, -1)
        .map((p) => p.key)
        .join(".") || "the body";
    throw new ValidationError(`Unknown field ${field} in ${parent}; allowed: ${allowedKeys(schema, issue.path?.slice(0, -1) ?? []).join(", ")}.`, field);
  }
  if (issue.received === "undefined") throw new ValidationError(`Field ${field} is required.`, field);
  throw new ValidationError(`Field ${field}: ${issue.message}.`, field);
}

/** A JSON body read within `limit` (whatever its Content-Type, as curl users send it); empty means `empty`. */
async function jsonBody<S extends v.GenericSchema>(req: Request, schema: S, limit: BodyLimit, empty: unknown): Promise<v.InferOutput<S>> {
  const bytes = await readBody(req, limit);
  // Bounded before parsing: deep nesting makes the parse (and each later copy) cost seconds.
  if (tooDeepLineAt(bytes) !== -1)
    throw new ValidationError(`The request body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep; send flatter metadata.`, "metadata");
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new ValidationError("The request body is not valid UTF-8.");
  }
  let raw: unknown = empty;
  if (text.trim()) {
    try {
      raw = JSON.parse(text);
    } catch {
      throw new ValidationError("The request body is not valid JSON.");
    }
  }
  return checked(schema, raw);
}

type Checked<Target extends "json" | "query", S extends v.GenericSchema> = MiddlewareHandler<
  // biome-ignore lint: any environment.
  any,
  string,
  { in: { [K in Target]: v.InferInput<S> }; out: { [K in Target]: v.InferOutput<S> } }
>;

const described = <M extends MiddlewareHandler>(middleware: M, target: "json" | "query", schema: v.GenericSchema) =>
  Object.assign(middleware, { [uniqueSymbol]: { target, ...resolver(schema, openapiOptions) } });

/** A JSON body checked against `schema`; the handler reads it with `c.req.valid("json")`. */
export function jsonInput<S extends v.GenericSchema>(schema: S, limit: BodyLimit, empty: unknown = {}): Checked<"json", S> {
  return described(
    async (c, next) => {
      c.req.addValidatedData("json", (await jsonBody(c.req.raw, schema, limit, empty)) as object);
      await next();
    },
    "json",
    schema,
  ) as Checked<"json", S>;
}

/** Query parameters checked against `schema` (unknown ones ignored); read with `c.req.valid("query")`. */
export function queryInput<S extends v.GenericSchema>(schema: S): Checked<"query", S> {
  return described(
    async (c, next) => {
      c.req.addValidatedData("query", checked(schema, c.req.query()) as object);
      await next();
    },
    "query",
    schema,
  ) as Checked<"query", S>;
}
