import { describe } from "@effect/vitest"
import { fraudContract } from "./contract/fraud.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  fraudContract("fraud on PostgreSQL", pgStorage())
})
