import { describe } from "@effect/vitest"
import { transferContract } from "./contract/transfers.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  transferContract("transfers on PostgreSQL", pgStorage())
})
