import { describe } from "@effect/vitest"
import { mergeModelContract } from "./contract/merge.model.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  mergeModelContract("merge, model-based, on PostgreSQL", pgStorage())
})
