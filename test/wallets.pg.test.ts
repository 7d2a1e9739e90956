import { describe } from "@effect/vitest"
import { walletContract } from "./contract/wallets.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  walletContract("wallets on PostgreSQL", pgStorage())
})
