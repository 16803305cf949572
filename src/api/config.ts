import { Hono, type MiddlewareHandler } from "hono";
import { describeRoute } from "hono-openapi";
import { redactConfig, type FieldName } from "../config/index.ts";
import { ValidationError } from "../errors.ts";
import { tooDeepLineAt } from "../recordings/input/json-depth.ts";
import { readBody } from "./body.ts";
import { ConfigAnswerSchema, ConfigPatchAnswerSchema, type ConfigAnswer, type ConfigPatchAnswer } from "./contract.ts";
import type { ApiDeps } from "./deps.ts";
import { answer, failures } from "./route-docs.ts";

async function jsonObject(req: Request): Promise<Record<string, unknown>> {
  const bytes = await readBody(req, { bytes: 1024 * 1024, what: "The request body", source: "the limit for config changes" });
  // Config fields are flat: deep nesting only costs parse time (bounded before parsing).
  if (tooDeepLineAt(bytes, 8) !== -1) throw new ValidationError("The request body nests too deeply; send a flat JSON object of config fields.");
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ValidationError("The request body is not valid JSON; send an object of config fields.");
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) {
    throw new ValidationError('The request body must be a JSON object of config fields, e.g. {"offline":true}.');
  }
  return body as Record<string, unknown>;
}

/** The body of PATCH /v1/config, read as above; its fields are checked by the live config. */
const changesInput: MiddlewareHandler<
  // biome-ignore lint: any environment.
  any,
  string,
  { in: { json: Partial<Record<FieldName, unknown>> }; out: { json: Record<string, unknown> } }
> = async (c, next) => {
  c.req.addValidatedData("json", await jsonObject(c.req.raw));
  await next();
};

/** Live changes last until the daemon restarts; profiles are not rewritten. */
export const configRoutes = (deps: Pick<ApiDeps, "config">) =>
  new Hono()
    .get("/", describeRoute({ summary: "The effective configuration, secrets redacted.", responses: { 200: answer("Config", ConfigAnswerSchema) } }), (c) =>
      c.json({ config: redactConfig(deps.config.get()) } satisfies ConfigAnswer),
    )
    .patch(
      "/",
      describeRoute({
        summary: "Change live fields (bandwidth_limit, encrypt_to, max_concurrent_uploads, num_threads, offline, storage_limit) until restart.",
        requestBody: { required: true, content: { "application/json": { schema: { type: "object" } } } },
        responses: { 200: answer("Config and changed fields", ConfigPatchAnswerSchema), ...failures(400, 409, 413) },
      }),
      changesInput,
      async (c) => {
        const { config, changed } = deps.config.patch(c.req.valid("json"));
        return c.json({ config: redactConfig(config), changed } satisfies ConfigPatchAnswer);
      },
    );
