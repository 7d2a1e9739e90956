/**
 * The HTTP API on PostgreSQL, through a listening Express server, on a fresh database.
 */
import { describe } from "vitest"
import { httpSuite } from "./contract/http.js"
import { createDatabase, pgEnabled } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  httpSuite("HTTP API on PostgreSQL", async () => {
    const db = await createDatabase()
    return { database: { postgres: db.url }, cleanup: db.drop }
  })
})
