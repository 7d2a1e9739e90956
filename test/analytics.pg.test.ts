import { describe } from "@effect/vitest"
import { analyticsContract } from "./contract/analytics.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  analyticsContract("retail analytics on PostgreSQL", pgStorage())
})
