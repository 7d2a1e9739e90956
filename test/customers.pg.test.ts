import { describe } from "@effect/vitest"
import { customerContract } from "./contract/customers.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  customerContract("customers on PostgreSQL", pgStorage())
})
