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
const BEFORE_IDENTITY = [
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
/** Every migration the identity-and-merge release had (the one before the retail analytics). */
const RELEASED = [...BEFORE_IDENTITY, "0850_identity_and_merge", "0860_wallet_merge", "0900_identity"]

describe("migrations", () => {
  it("ids are unique numbers; every migration added since the previous release is above its highest", () => {
    const number = (id: string) => Number(id.split("_")[0])
    expect(new Set(ids.map(number)).size).toBe(ids.length)
    for (const id of RELEASED) expect(ids).toContain(id)
    const highest = Math.max(...RELEASED.map(number))
    expect(ids.filter((id) => !RELEASED.includes(id)).filter((id) => number(id) <= highest)).toEqual([])
  })

  const upgrade = (released: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const fresh = yield* Effect.scoped(Effect.provide(Effect.zipRight(migrate(migrations), schema), layerClient({ filename: ":memory:" })))
      const upgraded = yield* Effect.scoped(Effect.provide(
        Effect.gen(function*() {
          yield* migrate(Object.fromEntries(released.map((id) => [id, migrations[id]!])))
          yield* migrate(migrations)
          return yield* schema
        }),
        layerClient({ filename: ":memory:" })
      ))
      return { fresh, upgraded }
    }).pipe(Effect.orDie)

  it.effect("a database migrated to the release before identity, then upgraded, has the schema of one migrated at once", () =>
    Effect.map(upgrade(BEFORE_IDENTITY), ({ fresh, upgraded }) => {
      expect(upgraded.map((r) => r.name)).toContain("c360_merges")
      expect(upgraded).toEqual(fresh)
    }))

  it.effect("a database migrated to the previous release, then upgraded, has the retail tables and the schema of one migrated at once", () =>
    Effect.map(upgrade(RELEASED), ({ fresh, upgraded }) => {
      for (const table of ["c360_imports", "c360_pos_sales", "c360_pos_customers", "c360_pos_coupons", "c360_loyalty_customers"]) {
        expect(upgraded.map((r) => r.name)).toContain(table)
      }
      expect(upgraded).toEqual(fresh)
    }))
})
