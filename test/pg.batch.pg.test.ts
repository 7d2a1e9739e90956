/**
 * PostgreSQL's one-round-trip batch (src/platform/pg/PgBatch.ts): a statement with its parameters
 * written in as literals means what it means with them bound — for any string (quotes, backslashes,
 * `$1` inside it, any Unicode), number and null — and a batch is all or nothing.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "fast-check"
import { inline, pgBatch } from "../src/platform/pg/PgBatch.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  layer(pgStorage(), { timeout: "60 seconds" })("the one-round-trip batch", (it) => {
    it.effect("property: a statement with its parameters inlined answers what it answers with them bound", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const text = fc.string({ unit: "binary", maxLength: 40 }).filter((s) => !s.includes("\u0000"))
        const samples = fc.sample(fc.tuple(text, fc.integer(), fc.option(fc.maxSafeInteger()), text), { numRuns: 200, seed: 20261202 })
        for (const [a, n, m, b] of samples) {
          const statement = sql`SELECT CAST(${a} AS TEXT) AS a, CAST(${n} AS BIGINT) AS n, CAST(${m} AS BIGINT) AS m,
            ${b} || '$1' AS b, length(${a}) AS len`
          const [compiled, params] = statement.compile()
          const inlined = inline(compiled, params)
          expect(inlined).toBeDefined()
          const bound = yield* statement
          const literal = yield* sql.unsafe(inlined!)
          expect(literal).toEqual(bound)
        }
      }).pipe(Effect.orDie))

    it.effect("a batch is one implicit transaction: a failing statement leaves nothing of the others", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE IF NOT EXISTS c360_batch_probe (id TEXT PRIMARY KEY)`
        const batch = pgBatch(sql)
        const rows = yield* batch([
          sql`INSERT INTO c360_batch_probe (id) VALUES (${"a'1"}) RETURNING id`,
          sql`INSERT INTO c360_batch_probe (id) VALUES (${"b\\2"}) RETURNING id`
        ])
        expect(rows).toEqual([[{ id: "a'1" }], [{ id: "b\\2" }]])
        const failed = yield* Effect.exit(batch([
          sql`INSERT INTO c360_batch_probe (id) VALUES (${"c3"})`,
          sql`INSERT INTO c360_batch_probe (id) VALUES (${"a'1"})`
        ]))
        expect(Exit.isFailure(failed)).toBe(true)
        const ids = yield* sql<{ id: string }>`SELECT id FROM c360_batch_probe ORDER BY id`
        expect(ids.map((r) => r.id)).toEqual(["a'1", "b\\2"])
      }).pipe(Effect.orDie))

    it("statements it cannot rewrite with certainty are left alone (the batch then runs them one by one)", () => {
      expect(inline("SELECT $$a$$", [])).toBeUndefined()
      expect(inline("SELECT $1", [new Date()])).toBeUndefined()
      expect(inline("SELECT $1", [{ a: 1 }])).toBeUndefined()
      expect(inline("SELECT '$1', $1", ["x"])).toBe("SELECT '$1', 'x'")
      expect(inline("SELECT \"$1\", $1", [null])).toBe("SELECT \"$1\", NULL")
    })
  })
})
