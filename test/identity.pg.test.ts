import { describe } from "@effect/vitest"
import { identityContract } from "./contract/identity.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  identityContract("identity on PostgreSQL", pgStorage(), { concurrentLogins: 130, concurrentConfirmations: 10 })
})
