import { describe } from "@effect/vitest"
import { purchaseContract } from "./contract/purchases.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  purchaseContract("purchases on PostgreSQL", pgStorage())
})
