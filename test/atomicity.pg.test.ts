import { describe } from "@effect/vitest"
import { atomicityContract } from "./contract/atomicity.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  atomicityContract("unit of work on PostgreSQL", pgStorage())
})
