import { describe } from "@effect/vitest"
import { mergeWalletsContract } from "./contract/merge.wallets.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  mergeWalletsContract("the wallets merge part on PostgreSQL", pgStorage(), { concurrency: true })
})
