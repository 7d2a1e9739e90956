/**
 * Upgrades: a database migrated by an earlier release runs every migration added since. The
 * migrator runs only the ids above the highest one a database has run, so a migration added later
 * must take an id above every existing one (src/modules.ts) — one numbered inside an old module's
 * range would never run on a database that exists. Here: a SQLite file migrated to each earlier
 * release's last migration, then migrated with everything, ends with the same schema as a database
 * migrated at once.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { migrations } from "../src/modules.js"
import { migrate } from "../src/platform/sql/Migrations.js"
import { layerClient } from "../src/storage/SqliteDatabase.js"

const schema = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ type: string; name: string; sql: string | null }>`SELECT type, name, sql FROM sqlite_master
    WHERE name NOT LIKE 'sqlite_%' AND name <> 'c360_migrations' ORDER BY type, name`)

const ids = Object.keys(migrations).sort()
/** Every migration the release before identity and merge had: a database of that release has run these. */
const RELEASED = [
  "0001_outbox",
  "0002_job_leases",
  "0100_customers",
  "0101_payment_codes",
  "0200_wallets",
  "0201_wallet_functions",
  "0300_notes",
  "0400_tickets",
  "0500_bank_transfers",
  "0600_purchases",
  "0800_fraud"
]

describe("migrations", () => {
  it("ids are unique numbers; every migration added since the previous release is above its highest", () => {
    const number = (id: string) => Number(id.split("_")[0])
    expect(new Set(ids.map(number)).size).toBe(ids.length)
    for (const id of RELEASED) expect(ids).toContain(id)
    const highest = Math.max(...RELEASED.map(number))
    expect(ids.filter((id) => !RELEASED.includes(id)).filter((id) => number(id) <= highest)).toEqual([])
  })

  it.effect("a database migrated to the previous release, then upgraded, has the schema of one migrated at once", () =>
    Effect.gen(function*() {
      const fresh = yield* Effect.scoped(Effect.provide(Effect.zipRight(migrate(migrations), schema), layerClient({ filename: ":memory:" })))
      const upgraded = yield* Effect.scoped(Effect.provide(
        Effect.gen(function*() {
          yield* migrate(Object.fromEntries(RELEASED.map((id) => [id, migrations[id]!])))
          yield* migrate(migrations)
          return yield* schema
        }),
        layerClient({ filename: ":memory:" })
      ))
      expect(upgraded.map((r) => r.name)).toContain("c360_merges")
      expect(upgraded).toEqual(fresh)
    }).pipe(Effect.orDie))
})
