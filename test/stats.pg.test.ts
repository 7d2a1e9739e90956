import { describe } from "@effect/vitest"
import { statsContract } from "./contract/stats.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  statsContract("statistics on PostgreSQL", pgStorage())
})
