import { describe } from "@effect/vitest"
import { mergeContract } from "./contract/merge.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  mergeContract("merge on PostgreSQL", pgStorage())
})
