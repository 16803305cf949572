// docs/api.md is the contract: every route the daemon serves (as its OpenAPI document says;
// test/api/openapi.test.ts holds that the document lists exactly the served routes) must be
// documented there.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { instancePaths, killAll, run } from "../daemon/helpers.ts";
import { tempHome } from "../support/binary.ts";

const home = tempHome();
let doc: { paths: Record<string, Record<string, unknown>> };

beforeAll(async () => {
  expect((await run(["launch", "--background"], { home })).code).toBe(0);
  const res = await fetch("http://localhost/v1/openapi.json", { unix: instancePaths(home).socket } as RequestInit);
  doc = (await res.json()) as typeof doc;
});
afterAll(async () => {
  await run(["stop"], { home });
  await killAll(home);
});

const routes = () =>
  Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ":$1")}`));

describe("the API documentation", () => {
  test("docs/api.md documents every route the OpenAPI document lists", () => {
    const text = readFileSync(resolve(import.meta.dir, "../../docs/api.md"), "utf8");
    expect(routes().filter((r) => !text.includes(`\`${r}`))).toEqual([]);
  });
});
