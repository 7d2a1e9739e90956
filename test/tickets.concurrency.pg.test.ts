/**
 * DOMAIN §4 on PostgreSQL under concurrency, through separate pool connections: concurrent
 * creations take consecutive numbers without gaps or duplicates (also when some of them roll back),
 * a special action retried at once happens once (one credit, one deposit, one history row), and of
 * concurrent transitions planned on one state only one commits — the others run again on the new
 * state and are refused by the table.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as TestClock from "effect/TestClock"
import { Customers } from "../src/customers/Customers.js"
import type { StoredEvent } from "../src/kernel/Events.js"
import { Outbox } from "../src/platform/Outbox.js"
import { parseCode, type TicketStatus } from "../src/tickets/Ticket.js"
import { Tickets } from "../src/tickets/Tickets.js"
import { Wallets } from "../src/wallets/Wallets.js"
import { freshPhone, servicesOver } from "./contract/customers.js"
import { counterOf, inYear, installFailures } from "./contract/tickets.js"
import { auditLedger } from "./support/audit.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

const CONNECTIONS = 24
const STATUS_ORDER: ReadonlyArray<TicketStatus> = ["new", "processing", "waiting_carrier", "completed", "cancelled"]

const numberOf = (code: string) => parseCode(code)!.number
const count = (query: Effect.Effect<ReadonlyArray<{ readonly n: unknown }>, unknown>) =>
  Effect.map(query, (rows) => Number(rows[0]?.n ?? 0)).pipe(Effect.orDie)
const tagOf = (e: unknown) => (typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : String(e))

const eventsSince = (mark: string) => Effect.flatMap(Outbox, (o) => o.read(mark, 10_000))
const outboxEnd = Effect.flatMap(Outbox, (o) => o.end)

describe.skipIf(!pgEnabled)("PostgreSQL ticket concurrency", () => {
  layer(servicesOver(pgStorage({ maxConnections: CONNECTIONS })), { timeout: "60 seconds" })((it) => {
    it.effect("50 concurrent creations (existing and new phones, several racing on one new phone) take 50 consecutive numbers: no gap, no duplicate, one customer per phone", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        const customers = yield* Customers
        const sql = yield* SqlClient.SqlClient
        yield* TestClock.setTime(inYear(2051))
        const existing = Array.from({ length: 5 }, freshPhone)
        for (const phone of existing) yield* customers.create({ phone, name: "Existing" })
        const fresh = Array.from({ length: 10 }, freshPhone)
        const before = yield* counterOf(2051)
        const mark = yield* outboxEnd
        const phoneOf = (i: number) => (i % 3 === 0 ? existing[i % existing.length]! : fresh[i % fresh.length]!)
        const results = yield* Effect.all(
          Array.from({ length: 50 }, (_, i) =>
            Effect.either(tickets.create({ phone: phoneOf(i), type: (["BOOM", "DOI", "THIEU", "HOAN", "KHAC"] as const)[i % 5]! }))),
          { concurrency: 50 }
        )
        expect(results.filter(Either.isLeft).map((r) => tagOf(r.left))).toEqual([])
        const codes = results.map((r) => Either.getOrThrow(r).ticket.code)
        expect(new Set(codes).size).toBe(50)
        const numbers = codes.map(numberOf).sort((a, b) => a - b)
        expect(numbers).toEqual(Array.from({ length: 50 }, (_, i) => before + 1 + i))
        for (const code of codes) expect(parseCode(code)!.year).toBe(2051)
        expect(yield* counterOf(2051)).toBe(before + 50)
        expect(yield* count(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_tickets WHERE year = 2051`)).toBe(before + 50)
        // every new phone: one customer, one customer.created; its tickets all under it
        for (const phone of fresh) {
          expect(yield* count(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_customers WHERE phone = ${phone}`)).toBe(1)
        }
        const events = yield* eventsSince(mark)
        expect(events.filter((e) => e.type === "customer.created")).toHaveLength(fresh.length)
        const created = events.filter((e) => e.type === "ticket.created")
        expect(created.map((e) => (e.data as { ticket: { code: string } }).ticket.code).sort()).toEqual([...codes].sort())
        for (const r of results) {
          const { ticket } = Either.getOrThrow(r)
          const owner = yield* customers.getByPhone(ticket.phone!)
          expect(ticket.customerId).toBe(owner.id)
        }
      }))

    it.effect("concurrent creations of which some roll back inside their transaction: the ones that commit still take consecutive numbers", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        yield* installFailures
        yield* TestClock.setTime(inYear(2052))
        const phones = Array.from({ length: 4 }, freshPhone)
        const before = yield* counterOf(2052)
        const results = yield* Effect.all(
          Array.from({ length: 40 }, (_, i) =>
            Effect.either(tickets.create({ phone: phones[i % phones.length]!, type: "KHAC", note: i % 4 === 1 ? "FAIL" : `ok ${i}` }))),
          { concurrency: 40 }
        )
        const failed = results.filter(Either.isLeft)
        expect(failed.map((r) => tagOf(r.left))).toEqual(Array(10).fill("StorageError"))
        const numbers = results.filter(Either.isRight).map((r) => numberOf(r.right.ticket.code)).sort((a, b) => a - b)
        expect(numbers).toEqual(Array.from({ length: 30 }, (_, i) => before + 1 + i))
        expect(yield* counterOf(2052)).toBe(before + 30)
      }))

    it.effect("a BOOM approval sent 2 and 8 times at once: one credit for the ticket, one approve_boom history row, the same result for every caller", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        const wallets = yield* Wallets
        const sql = yield* SqlClient.SqlClient
        yield* TestClock.setTime(inYear(2053))
        for (const callers of [2, 8, 8]) {
          const phone = freshPhone()
          const { ticket } = yield* tickets.create({ phone, type: "BOOM", amount: 45_000 })
          const results = yield* Effect.all(
            Array.from({ length: callers }, () => Effect.either(tickets.act(ticket.code, { action: "approve_boom" }))),
            { concurrency: "unbounded" }
          )
          expect(results.filter(Either.isLeft).map((r) => tagOf(r.left))).toEqual([])
          const ok = results.map((r) => Either.getOrThrow(r))
          expect(ok.filter((r) => !r.repeated)).toHaveLength(1)
          expect(new Set(ok.map((r) => r.credit!.credit.id)).size).toBe(1)
          expect(new Set(ok.map((r) => r.action.id)).size).toBe(1)
          expect(yield* count(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_virtual_credits WHERE ticket_id = ${ticket.code}`)).toBe(1)
          expect(yield* count(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_ticket_actions
            WHERE ticket_id = ${ticket.id} AND kind = 'approve_boom'`)).toBe(1)
          const stored = yield* tickets.get(ticket.code)
          expect(stored.ticket.version).toBe(1)
          expect((yield* wallets.get(phone)).virtualBalance).toBe(45_000)
        }
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("a HOAN refund retried 8 times at once deposits once: one ledger entry, one refund history row", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        const wallets = yield* Wallets
        const sql = yield* SqlClient.SqlClient
        yield* TestClock.setTime(inYear(2054))
        for (let round = 0; round < 3; round++) {
          const phone = freshPhone()
          const { ticket } = yield* tickets.create({ phone, type: "HOAN", amount: 90_000 })
          const mark = yield* outboxEnd
          const results = yield* Effect.all(
            Array.from({ length: 8 }, () => Effect.either(tickets.act(ticket.code, { action: "refund", amount: 90_000 }))),
            { concurrency: "unbounded" }
          )
          expect(results.filter(Either.isLeft).map((r) => tagOf(r.left))).toEqual([])
          const ok = results.map((r) => Either.getOrThrow(r))
          expect(ok.filter((r) => !r.repeated)).toHaveLength(1)
          expect(new Set(ok.map((r) => r.deposit!.transactionId)).size).toBe(1)
          expect(yield* count(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_ledger_entries
            WHERE customer_id = ${ticket.customerId} AND kind = 'deposit'`)).toBe(1)
          expect(yield* count(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_ticket_actions
            WHERE ticket_id = ${ticket.id} AND kind = 'refund'`)).toBe(1)
          expect((yield* wallets.get(phone)).balance).toBe(90_000)
          const events = yield* eventsSince(mark)
          expect(events.map((e: StoredEvent) => e.type)).toEqual(["wallet.deposit", "ticket.updated"])
        }
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("concurrent transitions of one ticket planned on the same state: exactly one commits, the others are refused InvalidTransition from the winner's state", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        const sql = yield* SqlClient.SqlClient
        yield* TestClock.setTime(inYear(2055))
        const phone = freshPhone()
        const cases: ReadonlyArray<{ readonly from: TicketStatus; readonly to: ReadonlyArray<TicketStatus> }> = [
          { from: "new", to: Array(5).fill("processing") },
          { from: "processing", to: Array(5).fill("waiting_carrier") },
          { from: "waiting_carrier", to: Array(5).fill("completed") },
          { from: "new", to: Array(5).fill("cancelled") },
          // mixed targets: a cancellation may follow the winner (processing → cancelled is allowed), but
          // never from the state the winner left
          { from: "new", to: ["processing", "cancelled", "processing", "cancelled", "processing"] },
          { from: "waiting_carrier", to: ["completed", "cancelled", "completed", "cancelled", "completed"] }
        ]
        for (const { from, to } of cases) {
          const sameTarget = new Set(to).size === 1
          for (let round = 0; round < 2; round++) {
            let { ticket } = yield* tickets.create({ phone, type: "KHAC" })
            for (const step of from === "new" ? [] : from === "processing" ? ["processing"] : ["processing", "waiting_carrier"]) {
              ticket = (yield* tickets.act(ticket.code, { action: "transition", to: step })).ticket
            }
            const results = yield* Effect.all(
              to.map((target) => Effect.either(tickets.act(ticket.code, { action: "transition", to: target }))),
              { concurrency: "unbounded" }
            )
            const winners = results.filter(Either.isRight).map((r) => r.right)
            const label = `${from} → ${to.join(", ")}`
            // never two from one state: the winners' from-states are distinct and chain one to the next
            const chain = winners.map((w) => w.action.data as { from: TicketStatus; to: TicketStatus })
              .sort((a, b) => STATUS_ORDER.indexOf(a.from) - STATUS_ORDER.indexOf(b.from))
            expect(chain.length, label).toBeGreaterThanOrEqual(1)
            expect(new Set(chain.map((c) => c.from)).size, label).toBe(chain.length)
            expect(chain[0]!.from, label).toBe(from)
            for (let i = 1; i < chain.length; i++) expect(chain[i]!.from, label).toBe(chain[i - 1]!.to)
            if (sameTarget) expect(winners, label).toHaveLength(1)
            const final = chain.at(-1)!.to
            for (const r of results.filter(Either.isLeft)) {
              expect(r.left, label).toMatchObject({ _tag: "InvalidTransition" })
              expect(r.left._tag === "InvalidTransition" && r.left.from, label).not.toBe(from)
            }
            const stored = yield* tickets.get(ticket.code)
            expect(stored.ticket, label).toMatchObject({ status: final, version: ticket.version + chain.length })
            expect(stored.history.filter((h) => h.kind === "transition").length).toBe(ticket.version + chain.length)
          }
        }
        // the completions counted once
        const customer = yield* Effect.flatMap(Customers, (c) => c.getByPhone(phone))
        const completed = yield* count(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_tickets
          WHERE customer_id = ${customer.id} AND status = 'completed'`)
        expect((yield* tickets.stats(phone)).completed).toBe(completed)
      }))

    it.effect("5 concurrent cancellations: one writes, the others return the cancelled ticket as is", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        yield* TestClock.setTime(inYear(2056))
        const phone = freshPhone()
        for (let round = 0; round < 3; round++) {
          const { ticket } = yield* tickets.create({ phone, type: "DOI" })
          const results = yield* Effect.all(
            Array.from({ length: 5 }, () => Effect.either(tickets.cancel(ticket.code))),
            { concurrency: "unbounded" }
          )
          expect(results.filter(Either.isLeft).map((r) => tagOf(r.left))).toEqual([])
          for (const r of results) expect(Either.getOrThrow(r)).toMatchObject({ status: "cancelled", version: 1 })
          const stored = yield* tickets.get(ticket.code)
          expect(stored.history.map((h) => h.kind)).toEqual(["created", "transition"])
        }
      }))
  })
})
