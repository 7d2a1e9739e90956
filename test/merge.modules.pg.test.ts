import { describe } from "@effect/vitest"
import { mergeModulesContract } from "./contract/merge.modules.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  mergeModulesContract("the modules' merge parts on PostgreSQL", pgStorage())
})
