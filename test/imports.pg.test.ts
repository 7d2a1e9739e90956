import { describe } from "@effect/vitest"
import { importsContract } from "./contract/imports.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  importsContract("imports on PostgreSQL", pgStorage())
})
