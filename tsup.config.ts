import { defineConfig } from "tsup"

export default defineConfig({
  entry: {
    index: "src/index.ts",
    sqlite: "src/sqlite.ts",
    pg: "src/pg.ts",
    http: "src/http.ts",
    d1: "src/d1.ts"
  },
  format: ["esm", "cjs"],
  dts: true,
  sourcemap: true,
  clean: true,
  target: "node20",
  treeshake: true,
  splitting: true
})
