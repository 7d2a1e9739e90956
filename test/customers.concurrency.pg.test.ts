/**
 * DOMAIN §2: exactly one customer per phone however many callers race, on PostgreSQL, through
 * separate pool connections.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { Customers } from "../src/customers/Customers.js"
import { eventsSince, freshPhone, outboxMark, servicesOver } from "./contract/customers.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

const CALLERS = 64

describe.skipIf(!pgEnabled)("PostgreSQL concurrency", () => {
  layer(servicesOver(pgStorage({ maxConnections: CALLERS })), { timeout: "60 seconds" })((it) => {
    it.effect(`${CALLERS} concurrent getOrCreate calls for one new phone: one row, one id, one customer.created in the outbox`, () =>
      Effect.scoped(Effect.gen(function*() {
        const customers = yield* Customers
        const sql = yield* SqlClient.SqlClient
        for (let round = 0; round < 5; round++) {
          const phone = freshPhone()
          const mark = yield* outboxMark
          const formats = [phone, `+84 ${phone.slice(1)}`, `0084.${phone.slice(1)}`, `84${phone.slice(1)}`]
          const results = yield* Effect.all(
            Array.from({ length: CALLERS }, (_, i) =>
              customers.getOrCreate({ phone: formats[i % formats.length]!, name: `Caller ${i}`, source: "ticket" })),
            { concurrency: "unbounded" }
          )
          const ids = new Set(results.map((r) => r.customer.id))
          expect(ids.size).toBe(1)
          expect(results.filter((r) => r.created)).toHaveLength(1)
          const rows = yield* sql<{ id: string }>`SELECT id FROM c360_customers WHERE phone = ${phone}`
          expect(rows.map((r) => r.id)).toEqual([...ids])
          const published = yield* eventsSince(mark)
          expect(published.map((e) => [e.type, e.subject])).toEqual([["customer.created", [...ids][0]]])
        }
      })))

    it.effect("the calls really ran on separate connections at once", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        // Each caller holds its connection for a while; 64 distinct backends prove the pool opened
        // one connection per caller rather than queueing them on a few.
        const backends = yield* Effect.all(
          Array.from({ length: CALLERS }, () =>
            sql.withTransaction(
              Effect.zipLeft(
                sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`,
                sql`SELECT pg_sleep(0.2)`
              )
            )),
          { concurrency: "unbounded" }
        )
        expect(new Set(backends.map((rows) => rows[0]!.pid)).size).toBe(CALLERS)
      }))
  })
})
