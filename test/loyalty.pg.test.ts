import { describe } from "@effect/vitest"
import { loyaltyContract } from "./contract/loyalty.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  loyaltyContract("the loyalty sync on PostgreSQL", pgStorage())
})
