import { Hono } from "hono";
import { redactConfig } from "../config/index.ts";
import { ValidationError } from "../errors.ts";
import type { ApiDeps } from "./deps.ts";

async function jsonObject(req: Request): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await req.json();
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
