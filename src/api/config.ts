import { Hono } from "hono";
import { redactConfig } from "../config/index.ts";
import { ValidationError } from "../errors.ts";
import { tooDeepLineAt } from "../recordings/json-depth.ts";
import { readBody } from "./body.ts";
import type { ApiDeps } from "./deps.ts";

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
    throw new ValidationError("The request body must be a JSON object of config fields, e.g. {\"offline\":true}.");
  }
  return body as Record<string, unknown>;
}

/** Live changes last until the daemon restarts; profiles are not rewritten. */
export const configRoutes = (deps: Pick<ApiDeps, "config">) =>
  new Hono()
    .get("/", (c) => c.json({ config: redactConfig(deps.config.get()) }))
    .patch("/", async (c) => {
      const { config, changed } = deps.config.patch(await jsonObject(c.req.raw));
      return c.json({ config: redactConfig(config), changed });
    });
