/**
 * The Promise facade on PostgreSQL: the same suite, on a fresh database.
 */
import { describe } from "@effect/vitest"
import { facadeSuite } from "./contract/facade.js"
import { createDatabase, pgEnabled } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  facadeSuite("Promise facade on PostgreSQL", async () => {
    const db = await createDatabase()
    return { database: { postgres: { url: db.url } }, cleanup: db.drop }
  })
})
