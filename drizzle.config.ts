// drizzle-kit reads this to generate SQL migrations into drizzle/; the daemon embeds them
// through src/store/migrations.gen.ts (see scripts/gen-migrations.ts).
import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/store/schema.ts",
  out: "./drizzle",
});
