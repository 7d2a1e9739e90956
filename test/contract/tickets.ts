/**
 * The ticket contract (DOMAIN §4, §4a), run against SQLite, SQLite with deferred writes, PostgreSQL
 * and D1 (tickets.*.test.ts): codes per business year without gaps (a creation that rolls back takes
 * its number back), the state table, the special actions once per ticket in one unit of work with the
 * wallet (either both commit or neither), statistics, the deadline job, lists, events on the
 * `tickets` channel and activities — and a model-based test in which random sequences of creations,
 * transitions, special actions, notes and updates run against the real adapters and an in-memory
 * model, which must agree after every step.
 *
 * Each test runs at its own instant (`TestClock.setTime`), in a business year no other test of the
 * file uses: the per-year counter is shared by the whole database.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import { Customers } from "../../src/customers/Customers.js"
import type { StoredEvent } from "../../src/kernel/Events.js"
import { Notes } from "../../src/notes/Notes.js"
import { Outbox } from "../../src/platform/Outbox.js"
import { Transactions } from "../../src/platform/Transactions.js"
import { UnitOfWork } from "../../src/platform/UnitOfWork.js"
import type { StoragePorts } from "../../src/storage/Storage.js"
import {
  parseCode,
  type Priority,
  type SpecialAction,
  type Ticket,
  type TicketStatus,
  type TicketType,
  TRANSITIONS
} from "../../src/tickets/Ticket.js"
import { BOOM_CREDIT_DAYS, Tickets, type TicketsShape } from "../../src/tickets/Tickets.js"
import { Wallets } from "../../src/wallets/Wallets.js"
import { auditLedger } from "../support/audit.js"
import { freshPhone, servicesOver } from "./customers.js"

const SECOND = 1_000
const HOUR = 3_600_000
const DAY = 24 * HOUR

/** An instant in the middle of `year` (10:00 in Hanoi on 10 March): its business year is `year`. */
export const inYear = (year: number) => Date.UTC(year, 2, 10, 3)

const STATUSES: ReadonlyArray<TicketStatus> = ["new", "processing", "waiting_carrier", "completed", "cancelled"]
/** The happy path to each status (cancelled: straight from new). */
const PATH: Record<TicketStatus, ReadonlyArray<TicketStatus>> = {
  new: [],
  processing: ["processing"],
  waiting_carrier: ["processing", "waiting_carrier"],
  completed: ["processing", "waiting_carrier", "completed"],
  cancelled: ["cancelled"]
}

const numberOf = (code: string) => parseCode(code)!.number
const yearOf = (code: string) => parseCode(code)!.year

class Boom {
  readonly _tag = "Boom"
}

const scalar = (query: Effect.Effect<ReadonlyArray<{ readonly n: unknown }>, unknown>) =>
  Effect.map(query, (rows) => Number(rows[0]?.n ?? 0)).pipe(Effect.orDie)

/** The year's counter as stored (0: no ticket yet). */
export const counterOf = (year: number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    scalar(sql<{ n: unknown }>`SELECT coalesce(max(last_number), 0) AS n FROM c360_ticket_counters WHERE year = ${year}`))

const WRITTEN = [
  "c360_tickets",
  "c360_ticket_actions",
  "c360_ticket_counters",
  "c360_ticket_stats",
  "c360_customers",
  "c360_wallets",
  "c360_virtual_credits",
  "c360_ledger_entries",
  "c360_wallet_operations",
  "c360_activities",
  "c360_outbox"
] as const

/** Row counts of every table a ticket creation or action writes, and the sum of the counters, in one read. */
const snapshot = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.gen(function*() {
    const counts = WRITTEN.map((table) => sql`(SELECT count(*) FROM ${sql(table)}) AS ${sql(table)}`)
    const [row] = yield* sql<Record<string, unknown>>`SELECT ${sql.csv(counts)},
      (SELECT coalesce(sum(last_number), 0) FROM c360_ticket_counters) AS counters`
    return Object.fromEntries(Object.entries(row!).map(([k, v]) => [k, Number(v)]))
  }).pipe(Effect.orDie))

const outboxEnd = Effect.flatMap(Outbox, (o) => o.end)
/** Every event committed after `mark`. */
const eventsSince = (mark: string) => Effect.flatMap(Outbox, (o) => o.read(mark, 10_000))
/** The ticket events after `mark`; each must be on the `tickets` channel. */
const ticketEvents = (mark: string) =>
  Effect.map(eventsSince(mark), (events) => {
    const tickets = events.filter((e) => e.type.startsWith("ticket."))
    for (const e of tickets) expect(e.channel, e.type).toBe("tickets")
    return tickets
  })
type TicketEventData = { readonly ticket: Record<string, unknown>; readonly action?: string }
const dataOf = (e: StoredEvent) => e.data as unknown as TicketEventData

/**
 * A test-only failure: inserting into `c360_ticket_actions` aborts when the note is `FAIL`, or when
 * (ticket, kind) is listed in `test_ticket_failures` — a failure inside the writing transaction,
 * after everything before it. Idempotent.
 */
export const installFailures = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.gen(function*() {
    yield* sql`CREATE TABLE IF NOT EXISTS test_ticket_failures (ticket_id TEXT NOT NULL, kind TEXT NOT NULL)`
    yield* sql.onDialectOrElse({
      pg: () =>
        Effect.gen(function*() {
          yield* sql.unsafe(`CREATE OR REPLACE FUNCTION test_ticket_actions_fail() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.note = 'FAIL' OR EXISTS (
                SELECT 1 FROM test_ticket_failures f WHERE f.ticket_id = NEW.ticket_id AND f.kind = NEW.kind
              ) THEN
                RAISE EXCEPTION 'test failure';
              END IF;
              RETURN NEW;
            END $$`)
          yield* sql.unsafe(`DROP TRIGGER IF EXISTS test_ticket_actions_fail ON c360_ticket_actions`)
          yield* sql.unsafe(`CREATE TRIGGER test_ticket_actions_fail BEFORE INSERT ON c360_ticket_actions
            FOR EACH ROW EXECUTE FUNCTION test_ticket_actions_fail()`)
        }),
      orElse: () =>
        sql.unsafe(`CREATE TRIGGER IF NOT EXISTS test_ticket_actions_fail BEFORE INSERT ON c360_ticket_actions
          WHEN NEW.note = 'FAIL' OR EXISTS (
            SELECT 1 FROM test_ticket_failures f WHERE f.ticket_id = NEW.ticket_id AND f.kind = NEW.kind
          )
          BEGIN SELECT RAISE(ABORT, 'test failure'); END`)
    })
  }).pipe(Effect.orDie))

const failActions = (ticketId: string, kind: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`INSERT INTO test_ticket_failures (ticket_id, kind) VALUES (${ticketId}, ${kind})`.pipe(Effect.orDie))
const allowActions = (ticketId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`DELETE FROM test_ticket_failures WHERE ticket_id = ${ticketId}`.pipe(Effect.orDie))

/** A ticket with its history, as stored. */
const stored = (code: string) => Effect.flatMap(Tickets, (t) => t.get(code))

/** Creates a ticket of the phone and moves it along the happy path to `status`. */
const ticketIn = (phone: string, status: TicketStatus, input: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const tickets = yield* Tickets
    const { ticket } = yield* tickets.create({ phone, type: "KHAC", ...input } as never)
    let t = ticket
    for (const to of PATH[status]) {
      yield* TestClock.adjust(SECOND)
      t = (yield* tickets.act(t.code, { action: "transition", to })).ticket
    }
    expect(t.status).toBe(status)
    return t
  })

const ledgerOf = (phone: string) => Effect.flatMap(Wallets, (w) => w.transactions(phone, { limit: 100 }))

/**
 * The contract over a storage. `modelRuns`: runs of the model-based test (15; D1 under Miniflare
 * answers a statement in milliseconds, not microseconds, and takes fewer — deferred SQLite runs the
 * same semantics the full number of times).
 */
export const ticketContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  options: { readonly modelRuns?: number } = {}
) =>
  layer(servicesOver(storage), { timeout: "120 seconds" })(name, (it) => {
    it.effect("create for a new phone creates the customer (source ticket, one customer.created); codes TV-<year>-00001, -00002 of the clock's business year; the history starts with created and the note", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        const customers = yield* Customers
        const T = inYear(2031)
        yield* TestClock.setTime(T)
        const phone = freshPhone()
        const mark = yield* outboxEnd
        const first = yield* tickets.create(
          { phone: `+84 ${phone.slice(1, 4)} ${phone.slice(4, 7)} ${phone.slice(7)}`, type: "BOOM", amount: 120_000, orderReference: "SO-1", carrier: "GHN", note: "khách không nhận hàng" },
          { actor: "staff-1" }
        )
        expect(first.ticket.code).toBe("TV-2031-00001")
        const customer = Option.getOrThrow(yield* customers.findByPhone(phone))
        expect(customer.source).toBe("ticket")
        expect(first.ticket).toMatchObject({
          type: "BOOM",
          status: "new",
          priority: "normal",
          customerId: customer.id,
          phone,
          orderReference: "SO-1",
          amount: 120_000,
          carrier: "GHN",
          carrierDeadline: null,
          assignee: null,
          completedAt: null,
          escalatedAt: null,
          version: 0
        })
        expect(first.ticket.createdAt.getTime()).toBe(T)
        expect(first.ticket.updatedAt.getTime()).toBe(T)
        expect(first.history.map((h) => [h.kind, h.actor, h.note])).toEqual([
          ["created", "staff-1", null],
          ["note", "staff-1", "khách không nhận hàng"]
        ])
        // read back: the same ticket, the same history
        expect(yield* stored(first.ticket.code)).toEqual(first)
        yield* TestClock.adjust(SECOND)
        const second = yield* tickets.create({ phone, type: "DOI", priority: "high" })
        expect(second.ticket.code).toBe("TV-2031-00002")
        expect(second.ticket).toMatchObject({ customerId: customer.id, priority: "high", amount: null })
        expect(second.history.map((h) => [h.kind, h.actor])).toEqual([["created", "system"]])
        const events = yield* eventsSince(mark)
        expect(events.filter((e) => e.type === "customer.created").map((e) => e.subject)).toEqual([customer.id])
        const created = events.filter((e) => e.type === "ticket.created")
        expect(created.map((e) => [e.channel, e.subject, dataOf(e).ticket.code])).toEqual([
          ["tickets", customer.id, "TV-2031-00001"],
          ["tickets", customer.id, "TV-2031-00002"]
        ])
        expect(dataOf(created[0]!).ticket).toMatchObject({ type: "BOOM", status: "new", amount: 120_000, phone })
        // bad input writes nothing, and takes no number
        const before = yield* snapshot
        expect((yield* Effect.flip(tickets.create({ phone: "0111 234 567", type: "BOOM" })))._tag).toBe("InvalidPhone")
        expect((yield* Effect.flip(tickets.create({ phone, type: "LOST" as TicketType })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(tickets.create({ phone, type: "HOAN", amount: 0 })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(tickets.create({ phone, type: "HOAN", amount: 1.5 })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(tickets.create({ phone, type: "HOAN", priority: "urgent" as Priority })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(tickets.create({ phone, type: "HOAN" }, { actor: " " })))._tag).toBe("ValidationError")
        expect(yield* snapshot).toEqual(before)
        const third = yield* tickets.create({ phone: freshPhone(), type: "KHAC" })
        expect(third.ticket.code).toBe("TV-2031-00003")
      }))

    it.effect("the code's year is the business year (Asia/Ho_Chi_Minh): 16:30 UTC on 31 December 2026 is 2026, 17:00 UTC is 2027, whose numbering starts again at 00001", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        const phone = freshPhone()
        yield* TestClock.setTime(Date.UTC(2026, 11, 31, 16, 30))
        const late2026 = yield* tickets.create({ phone, type: "KHAC" })
        expect(yearOf(late2026.ticket.code)).toBe(2026)
        yield* TestClock.setTime(Date.UTC(2026, 11, 31, 16, 59, 59, 999))
        const last2026 = yield* tickets.create({ phone, type: "KHAC" })
        expect(last2026.ticket.code).toBe(`TV-2026-${String(numberOf(late2026.ticket.code) + 1).padStart(5, "0")}`)
        yield* TestClock.setTime(Date.UTC(2026, 11, 31, 17, 0))
        const first2027 = yield* tickets.create({ phone, type: "KHAC" })
        expect(first2027.ticket.code).toBe("TV-2027-00001")
        yield* TestClock.setTime(Date.UTC(2026, 11, 31, 17, 30))
        const second2027 = yield* tickets.create({ phone, type: "KHAC" })
        expect(second2027.ticket.code).toBe("TV-2027-00002")
        // each year has its own counter: one more 2026 ticket continues 2026's numbering
        yield* TestClock.setTime(Date.UTC(2026, 11, 31, 16, 45))
        const again2026 = yield* tickets.create({ phone, type: "KHAC" })
        expect(numberOf(again2026.ticket.code)).toBe(numberOf(last2026.ticket.code) + 1)
        expect(yield* counterOf(2027)).toBe(2)
        expect(yield* counterOf(2026)).toBe(numberOf(again2026.ticket.code))
      }))

    it.effect("a creation that fails inside its transaction, after the counter step, leaves nothing — no ticket, no counter step, no customer, no event — and the next creation takes the next number", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        const customers = yield* Customers
        const tx = yield* Transactions
        const uow = yield* UnitOfWork
        yield* installFailures
        yield* TestClock.setTime(inYear(2034))
        const phone = freshPhone()
        const a = yield* tickets.create({ phone, type: "KHAC" })
        const n = numberOf(a.ticket.code)
        const before = yield* snapshot
        const mark = yield* outboxEnd
        // a new phone: the customer's creation is rolled back with the ticket
        const newPhone = freshPhone()
        const failed = yield* Effect.flip(tickets.create({ phone: newPhone, type: "BOOM", amount: 10_000, note: "FAIL" }))
        expect(failed._tag).toBe("StorageError")
        const failedExisting = yield* Effect.flip(tickets.create({ phone, type: "HOAN", note: "FAIL" }))
        expect(failedExisting._tag).toBe("StorageError")
        expect(yield* snapshot).toEqual(before)
        expect(yield* counterOf(2034)).toBe(n)
        expect(yield* eventsSince(mark)).toEqual([])
        expect(Option.isNone(yield* customers.findByPhone(newPhone))).toBe(true)
        const b = yield* tickets.create({ phone: newPhone, type: "BOOM", amount: 10_000, note: "fine" })
        expect(numberOf(b.ticket.code)).toBe(n + 1)
        expect(yearOf(b.ticket.code)).toBe(2034)
        if (!uow.deferred) {
          // immediate engines: a creation inside a caller's transaction that fails afterwards is undone
          const before2 = yield* snapshot
          const mark2 = yield* outboxEnd
          const third = freshPhone()
          const exit = yield* Effect.exit(tx.withTransaction(Effect.gen(function*() {
            const made = yield* tickets.create({ phone: third, type: "DOI" })
            expect(numberOf(made.ticket.code)).toBe(n + 2)
            return yield* Effect.fail(new Boom())
          })))
          expect(Exit.isFailure(exit)).toBe(true)
          expect(yield* snapshot).toEqual(before2)
          expect(yield* eventsSince(mark2)).toEqual([])
          expect(Option.isNone(yield* customers.findByPhone(third))).toBe(true)
          const c = yield* tickets.create({ phone: third, type: "DOI" })
          expect(numberOf(c.ticket.code)).toBe(n + 2)
          // and one that commits with the caller's other writes keeps its number
          const d = yield* tx.withTransaction(Effect.gen(function*() {
            yield* customers.getOrCreate({ phone: freshPhone(), source: "ticket" })
            return yield* tickets.create({ phone: third, type: "THIEU" })
          }))
          expect(numberOf(d.ticket.code)).toBe(n + 3)
        }
      }))

    it.effect("transitions through the whole table: an allowed one moves the ticket, writes one history row and one event; any other fails InvalidTransition { from, to } and writes nothing", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        yield* TestClock.setTime(inYear(2035))
        const phone = freshPhone()
        for (const from of STATUSES) {
          const invalid = [...STATUSES.filter((s) => !TRANSITIONS[from].includes(s)), "bogus", "COMPLETED", ""]
          const targets = TRANSITIONS[from].length === 0 ? [null] : TRANSITIONS[from]
          for (const [i, allowed] of targets.entries()) {
            const t = yield* ticketIn(phone, from)
            yield* TestClock.adjust(SECOND)
            if (i === 0) {
              const before = yield* stored(t.code)
              const mark = yield* outboxEnd
              for (const to of invalid) {
                const e = yield* Effect.flip(tickets.act(t.code, { action: "transition", to }))
                expect(e, `${from} → ${to}`).toMatchObject({ _tag: "InvalidTransition", from, to })
              }
              expect(yield* stored(t.code)).toEqual(before)
              expect(yield* eventsSince(mark)).toEqual([])
            }
            if (allowed === null) continue
            const mark = yield* outboxEnd
            const now = yield* TestClock.currentTimeMillis
            const r = yield* tickets.act(t.code, { action: "transition", to: allowed }, { actor: "staff-2" })
            expect(r.ticket).toMatchObject({ status: allowed, version: t.version + 1 })
            expect(r.ticket.updatedAt.getTime()).toBe(now)
            expect(r.ticket.completedAt?.getTime() ?? null).toBe(allowed === "completed" ? now : null)
            expect(r.repeated).toBe(false)
            expect(r.action).toMatchObject({ kind: "transition", actor: "staff-2", data: { from, to: allowed } })
            const after = yield* stored(t.code)
            expect(after.ticket).toEqual(r.ticket)
            expect(after.history.at(-1)).toEqual(r.action)
            const events = yield* ticketEvents(mark)
            expect(events.map((e) => [e.type, e.subject, dataOf(e).ticket.status])).toEqual([
              [allowed === "completed" ? "ticket.completed" : "ticket.updated", t.customerId, allowed]
            ])
          }
        }
      }))

    it.effect("completion sets completedAt, emits ticket.completed and adds to the customer's statistics (counts by type; returns = BOOM + HOAN)", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        const T = inYear(2036)
        yield* TestClock.setTime(T)
        const phone = freshPhone()
        const customer = (yield* tickets.create({ phone, type: "KHAC" })).ticket.customerId
        expect(yield* tickets.stats(phone)).toMatchObject({ customerId: customer, completed: 0, returns: 0, lastCompletedAt: null })
        const mark = yield* outboxEnd
        for (const type of ["BOOM", "HOAN", "DOI", "THIEU", "KHAC"] as const) {
          yield* ticketIn(phone, "completed", { type })
        }
        // neither a cancelled ticket nor an open one (the first KHAC) counts
        yield* ticketIn(phone, "cancelled", { type: "BOOM" })
        const last = yield* TestClock.currentTimeMillis
        const stats = yield* tickets.stats(`0084${phone.slice(1)}`)
        expect(stats).toMatchObject({ customerId: customer, completed: 5, boom: 1, hoan: 1, doi: 1, thieu: 1, khac: 1, returns: 2 })
        // the last completion came before the cancellation
        expect(stats.lastCompletedAt?.getTime()).toBeLessThan(last)
        const completions = (yield* ticketEvents(mark)).filter((e) => e.type === "ticket.completed")
        expect(completions).toHaveLength(5)
        for (const e of completions) {
          expect(e.subject).toBe(customer)
          expect(dataOf(e).ticket).toMatchObject({ status: "completed" })
          expect(dataOf(e).ticket.completedAt).toBe(e.occurredAt.toISOString())
        }
        expect(stats.lastCompletedAt?.toISOString()).toBe(completions.at(-1)!.occurredAt.toISOString())
        // another customer's statistics are their own
        const other = freshPhone()
        yield* ticketIn(other, "completed", { type: "HOAN" })
        expect(yield* tickets.stats(other)).toMatchObject({ completed: 1, hoan: 1, returns: 1, boom: 0 })
        expect((yield* tickets.stats(phone)).completed).toBe(5)
        expect((yield* Effect.flip(tickets.stats(freshPhone())))._tag).toBe("CustomerNotFound")
      }))

    it.effect("cancel: an open ticket becomes cancelled; a cancelled one is returned as is (nothing written); a completed one fails InvalidTransition", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        yield* TestClock.setTime(inYear(2039))
        const phone = freshPhone()
        for (const from of ["new", "processing", "waiting_carrier"] as const) {
          const t = yield* ticketIn(phone, from)
          const mark = yield* outboxEnd
          const cancelled = yield* tickets.cancel(t.code, { actor: "manager-1" })
          expect(cancelled).toMatchObject({ status: "cancelled", version: t.version + 1, completedAt: null })
          const afterFirst = yield* stored(t.code)
          expect(afterFirst.history.at(-1)).toMatchObject({ kind: "transition", actor: "manager-1", data: { from, to: "cancelled" } })
          yield* TestClock.adjust(SECOND)
          expect(yield* tickets.cancel(t.code)).toEqual(cancelled)
          expect(yield* stored(t.code)).toEqual(afterFirst)
          expect((yield* ticketEvents(mark)).map((e) => [e.type, dataOf(e).action])).toEqual([["ticket.updated", "transition"]])
          expect(yield* Effect.flip(tickets.act(t.code, { action: "transition", to: "processing" }))).toMatchObject({
            _tag: "InvalidTransition",
            from: "cancelled",
            to: "processing"
          })
        }
        const done = yield* ticketIn(phone, "completed")
        const before = yield* stored(done.code)
        const mark = yield* outboxEnd
        expect(yield* Effect.flip(tickets.cancel(done.code))).toMatchObject({ _tag: "InvalidTransition", from: "completed", to: "cancelled" })
        expect(yield* stored(done.code)).toEqual(before)
        expect(yield* eventsSince(mark)).toEqual([])
      }))

    it.effect("BOOM approval issues one 15-day virtual credit (the approval's amount, else the ticket's) with ticketId = the code; again: repeated, the same credit, the wallet unchanged; no amount, wrong type, closed: refused", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        const wallets = yield* Wallets
        const T = inYear(2037)
        yield* TestClock.setTime(T)
        const phone = freshPhone()
        const boom = (yield* tickets.create({ phone, type: "BOOM", amount: 150_000 })).ticket
        yield* TestClock.adjust(SECOND)
        const mark = yield* outboxEnd
        const approved = yield* tickets.act(boom.code, { action: "approve_boom" }, { actor: "manager-1" })
        expect(approved.repeated).toBe(false)
        expect(approved.credit).not.toBeNull()
        const credit = approved.credit!
        expect(credit.credit).toMatchObject({ amount: 150_000, remaining: 150_000, status: "active", ticketId: boom.code })
        expect(credit.credit.reason).toContain(boom.code)
        expect(credit.credit.expiresAt.getTime() - credit.credit.issuedAt.getTime()).toBe(BOOM_CREDIT_DAYS * DAY)
        expect(credit.credit.issuedAt.getTime()).toBe(T + SECOND)
        expect(approved.deposit).toBeNull()
        expect(approved.ticket).toMatchObject({ status: "new", version: boom.version + 1 })
        expect(approved.action).toMatchObject({
          kind: "approve_boom",
          actor: "manager-1",
          data: { amount: 150_000, creditId: credit.credit.id, transactionId: credit.transactionId }
        })
        const wallet = yield* wallets.get(phone)
        expect(wallet).toMatchObject({ balance: 0, virtualBalance: 150_000 })
        expect(wallet.credits.map((c) => [c.id, c.ticketId])).toEqual([[credit.credit.id, boom.code]])
        const afterFirst = yield* stored(boom.code)
        const ledger = yield* ledgerOf(phone)
        // approving again (also with the same amount, also later): the first outcome, nothing written
        yield* TestClock.adjust(HOUR)
        for (const input of [{ action: "approve_boom" as const }, { action: "approve_boom" as const, amount: 150_000 }]) {
          const again = yield* tickets.act(boom.code, input)
          expect(again.repeated).toBe(true)
          expect(again.credit).toEqual(credit)
          expect(again.action).toEqual(approved.action)
          expect(again.ticket).toEqual(approved.ticket)
        }
        expect(yield* Effect.flip(tickets.act(boom.code, { action: "approve_boom", amount: 1_000 }))).toMatchObject({
          _tag: "InvalidTicketAction",
          action: "approve_boom",
          reason: "already_done"
        })
        expect(yield* stored(boom.code)).toEqual(afterFirst)
        expect(yield* ledgerOf(phone)).toEqual(ledger)
        expect((yield* wallets.get(phone)).virtualBalance).toBe(150_000)
        const events = yield* eventsSince(mark)
        expect(events.map((e) => [e.channel, e.type])).toEqual([["wallets", "wallet.virtual_credit"], ["tickets", "ticket.updated"]])
        expect(dataOf(events[1]!).action).toBe("approve_boom")
        // the approval's amount wins over the ticket's
        const own = (yield* tickets.create({ phone, type: "BOOM", amount: 90_000 })).ticket
        expect((yield* tickets.act(own.code, { action: "approve_boom", amount: 50_000 })).credit?.credit.amount).toBe(50_000)
        // no amount anywhere: no_amount, nothing written; then with one
        const bare = (yield* tickets.create({ phone, type: "BOOM" })).ticket
        const bareBefore = yield* stored(bare.code)
        expect(yield* Effect.flip(tickets.act(bare.code, { action: "approve_boom" }))).toMatchObject({
          _tag: "InvalidTicketAction",
          reason: "no_amount"
        })
        expect(yield* stored(bare.code)).toEqual(bareBefore)
        expect((yield* tickets.act(bare.code, { action: "approve_boom", amount: 30_000 })).credit?.credit.amount).toBe(30_000)
        // the wrong type, and a closed BOOM ticket
        const doi = (yield* tickets.create({ phone, type: "DOI", amount: 10_000 })).ticket
        expect(yield* Effect.flip(tickets.act(doi.code, { action: "approve_boom" }))).toMatchObject({
          _tag: "InvalidTicketAction",
          action: "approve_boom",
          reason: "wrong_type"
        })
        expect(yield* Effect.flip(tickets.act(boom.code, { action: "refund", amount: 1_000 }))).toMatchObject({ reason: "wrong_type" })
        expect(yield* Effect.flip(tickets.act(boom.code, { action: "exchange" }))).toMatchObject({ reason: "wrong_type" })
        const closed = yield* ticketIn(phone, "cancelled", { type: "BOOM", amount: 5_000 })
        expect(yield* Effect.flip(tickets.act(closed.code, { action: "approve_boom" }))).toMatchObject({ reason: "closed" })
        expect(yield* wallets.get(phone)).toMatchObject({ balance: 0, virtualBalance: 150_000 + 50_000 + 30_000 })
        // an approval on a completed ticket that was approved while open still replays
        yield* tickets.act(boom.code, { action: "transition", to: "processing" })
        yield* tickets.act(boom.code, { action: "transition", to: "waiting_carrier" })
        yield* tickets.act(boom.code, { action: "transition", to: "completed" })
        expect((yield* tickets.act(boom.code, { action: "approve_boom" })).credit).toEqual(credit)
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("HOAN refund deposits once (source refund); a retry replays it; another amount is already_done; above the ticket's amount is over_amount. DOI exchange is recorded once", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        const wallets = yield* Wallets
        yield* TestClock.setTime(inYear(2040))
        const phone = freshPhone()
        const hoan = (yield* tickets.create({ phone, type: "HOAN", amount: 200_000 })).ticket
        const mark = yield* outboxEnd
        const refunded = yield* tickets.act(hoan.code, { action: "refund", amount: 120_000 })
        expect(refunded.repeated).toBe(false)
        expect(refunded.credit).toBeNull()
        expect(refunded.deposit?.wallet).toMatchObject({ balance: 120_000, virtualBalance: 0 })
        expect(refunded.action).toMatchObject({ kind: "refund", data: { amount: 120_000, transactionId: refunded.deposit!.transactionId } })
        const afterFirst = yield* stored(hoan.code)
        for (let i = 0; i < 3; i++) {
          yield* TestClock.adjust(SECOND)
          const again = yield* tickets.act(hoan.code, { action: "refund", amount: 120_000 })
          expect(again.repeated).toBe(true)
          expect(again.deposit).toEqual(refunded.deposit)
        }
        expect(yield* Effect.flip(tickets.act(hoan.code, { action: "refund", amount: 80_000 }))).toMatchObject({
          _tag: "InvalidTicketAction",
          reason: "already_done"
        })
        expect(yield* stored(hoan.code)).toEqual(afterFirst)
        const ledger = yield* ledgerOf(phone)
        expect(ledger.items.map((e) => [e.kind, e.amount, e.source, e.reference])).toEqual([
          ["deposit", 120_000, "refund", `ticket:${hoan.code}:refund`]
        ])
        expect((yield* wallets.get(phone)).balance).toBe(120_000)
        expect((yield* eventsSince(mark)).map((e) => e.type)).toEqual(["wallet.deposit", "ticket.updated"])
        // over the ticket's amount: refused, nothing written; the whole amount is fine
        const other = (yield* tickets.create({ phone, type: "HOAN", amount: 50_000 })).ticket
        const otherBefore = yield* stored(other.code)
        expect(yield* Effect.flip(tickets.act(other.code, { action: "refund", amount: 50_001 }))).toMatchObject({
          _tag: "InvalidTicketAction",
          action: "refund",
          reason: "over_amount"
        })
        expect(yield* stored(other.code)).toEqual(otherBefore)
        expect((yield* tickets.act(other.code, { action: "refund", amount: 50_000 })).deposit?.wallet.balance).toBe(170_000)
        // a HOAN ticket without an amount takes any refund; bad amounts are ValidationError
        const open = (yield* tickets.create({ phone, type: "HOAN" })).ticket
        expect((yield* Effect.flip(tickets.act(open.code, { action: "refund", amount: 0 })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(tickets.act(open.code, { action: "refund" } as never)))._tag).toBe("ValidationError")
        expect((yield* tickets.act(open.code, { action: "refund", amount: 1_000_000 })).deposit?.wallet.balance).toBe(1_170_000)
        const closed = yield* ticketIn(phone, "completed", { type: "HOAN", amount: 10_000 })
        expect(yield* Effect.flip(tickets.act(closed.code, { action: "refund", amount: 10_000 }))).toMatchObject({ reason: "closed" })
        expect(yield* Effect.flip(tickets.act(hoan.code, { action: "approve_boom", amount: 10 }))).toMatchObject({ reason: "wrong_type" })
        // DOI: the exchange is recorded once, with its note
        const doi = (yield* tickets.create({ phone, type: "DOI" })).ticket
        const exchanged = yield* tickets.act(doi.code, { action: "exchange", note: "đổi size M" })
        expect(exchanged).toMatchObject({ repeated: false, credit: null, deposit: null })
        expect(exchanged.action).toMatchObject({ kind: "exchange", note: "đổi size M" })
        const again = yield* tickets.act(doi.code, { action: "exchange", note: "again" })
        expect(again).toMatchObject({ repeated: true, credit: null, deposit: null })
        expect(again.action).toEqual(exchanged.action)
        const history = (yield* stored(doi.code)).history
        expect(history.filter((h) => h.kind === "exchange")).toHaveLength(1)
        expect(yield* Effect.flip(tickets.act(hoan.code, { action: "exchange" }))).toMatchObject({ reason: "wrong_type" })
        expect((yield* wallets.get(phone)).balance).toBe(1_170_000)
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("one unit of work: a failing wallet write leaves the ticket unchanged (IdempotencyConflict), a failing ticket write leaves the wallet unchanged (no deposit), and the ledger audits clean", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        const wallets = yield* Wallets
        yield* installFailures
        yield* TestClock.setTime(inYear(2041))
        const phone = freshPhone()
        // the credit's reference already used, with another payload: the approval fails and writes nothing
        const boom = (yield* tickets.create({ phone, type: "BOOM", amount: 70_000 })).ticket
        const taken = yield* wallets.issueVirtualCredit({ phone, amount: 1_000, reason: "something else", reference: `ticket:${boom.code}:credit` })
        const before = yield* stored(boom.code)
        const walletBefore = yield* wallets.get(phone)
        const ledgerBefore = yield* ledgerOf(phone)
        const mark = yield* outboxEnd
        const conflict = yield* Effect.flip(tickets.act(boom.code, { action: "approve_boom" }))
        expect(conflict).toMatchObject({ _tag: "IdempotencyConflict", reference: `ticket:${boom.code}:credit` })
        expect(yield* stored(boom.code)).toEqual(before)
        expect(yield* wallets.get(phone)).toEqual(walletBefore)
        expect(walletBefore.credits.map((c) => c.id)).toEqual([taken.credit.id])
        expect(yield* ledgerOf(phone)).toEqual(ledgerBefore)
        expect(yield* eventsSince(mark)).toEqual([])
        // the ticket's write fails after the deposit: neither commits
        const hoan = (yield* tickets.create({ phone, type: "HOAN", amount: 40_000 })).ticket
        yield* failActions(hoan.id, "refund")
        const hoanBefore = yield* stored(hoan.code)
        const snap = yield* snapshot
        const mark2 = yield* outboxEnd
        const failed = yield* Effect.flip(tickets.act(hoan.code, { action: "refund", amount: 40_000 }))
        expect(failed._tag).toBe("StorageError")
        expect(yield* stored(hoan.code)).toEqual(hoanBefore)
        expect(yield* snapshot).toEqual(snap)
        expect(yield* wallets.get(phone)).toEqual(walletBefore)
        expect(yield* ledgerOf(phone)).toEqual(ledgerBefore)
        expect(yield* eventsSince(mark2)).toEqual([])
        expect((yield* auditLedger).violations).toEqual([])
        // once the ticket can be written, the refund happens: its reference was not used up
        yield* allowActions(hoan.id)
        const ok = yield* tickets.act(hoan.code, { action: "refund", amount: 40_000 })
        expect(ok).toMatchObject({ repeated: false })
        expect(ok.deposit?.wallet.balance).toBe(40_000)
        expect((yield* ledgerOf(phone)).items.filter((e) => e.kind === "deposit")).toHaveLength(1)
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("update, assign, priority and notes write history, ticket.updated events and activities; an empty patch writes nothing; a closed ticket refuses updates", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        const notes = yield* Notes
        const T = inYear(2042)
        yield* TestClock.setTime(T)
        const phone = freshPhone()
        const t = (yield* tickets.create({ phone, type: "THIEU", priority: "low" }, { actor: "staff-1" })).ticket
        const mark = yield* outboxEnd
        yield* TestClock.adjust(SECOND)
        const assigned = yield* tickets.update(t.code, { assignee: "staff-9" }, { actor: "lead-1" })
        expect(assigned).toMatchObject({ assignee: "staff-9", version: 1 })
        yield* TestClock.adjust(SECOND)
        const deadline = new Date(T + 3 * DAY)
        const updated = yield* tickets.update(t.code, { priority: "high", carrier: "GHTK", carrierDeadline: deadline, orderReference: "SO-77" })
        expect(updated).toMatchObject({ priority: "high", carrier: "GHTK", orderReference: "SO-77", assignee: "staff-9", version: 2 })
        expect(updated.carrierDeadline?.getTime()).toBe(deadline.getTime())
        yield* TestClock.adjust(SECOND)
        const noted = yield* tickets.act(t.code, { action: "note", text: "gọi lại\nlúc 3 giờ" }, { actor: "staff-9" })
        expect(noted.ticket.version).toBe(3)
        yield* TestClock.adjust(SECOND)
        const cleared = yield* tickets.update(t.code, { assignee: null, carrierDeadline: null })
        expect(cleared).toMatchObject({ assignee: null, carrierDeadline: null, version: 4 })
        // nothing to change: the ticket as it is, nothing written
        const snap = yield* snapshot
        expect(yield* tickets.update(t.code, {})).toEqual(cleared)
        expect(yield* snapshot).toEqual(snap)
        const { history, ticket } = yield* stored(t.code)
        expect(ticket).toEqual(cleared)
        expect(history.map((h) => [h.kind, h.actor, h.note, h.at.getTime() - T])).toEqual([
          ["created", "staff-1", null, 0],
          ["assigned", "lead-1", null, 1 * SECOND],
          ["updated", "system", null, 2 * SECOND],
          ["note", "staff-9", "gọi lại\nlúc 3 giờ", 3 * SECOND],
          ["updated", "system", null, 4 * SECOND]
        ])
        expect(history[1]!.data).toEqual({ assignee: "staff-9" })
        expect(history[2]!.data).toEqual({ priority: "high", carrier: "GHTK", carrierDeadline: deadline.toISOString(), orderReference: "SO-77" })
        const events = yield* ticketEvents(mark)
        expect(events.map((e) => [e.type, e.subject, dataOf(e).action, dataOf(e).ticket.assignee])).toEqual([
          ["ticket.updated", t.customerId, "assigned", "staff-9"],
          ["ticket.updated", t.customerId, "updated", "staff-9"],
          ["ticket.updated", t.customerId, "note", "staff-9"],
          ["ticket.updated", t.customerId, "updated", null]
        ])
        expect(dataOf(events[1]!).ticket).toMatchObject({ priority: "high", carrierDeadline: deadline.toISOString() })
        // activities, newest first: every ticket action, with its actor, about the ticket
        const page = yield* notes.activities(phone, { limit: 100 })
        const ticketActivities = page.items.filter((a) => a.kind.startsWith("ticket."))
        expect(ticketActivities.map((a) => [a.kind, a.actor, a.subjectType, a.subjectId])).toEqual([
          ["ticket.updated", "system", "ticket", t.id],
          ["ticket.note", "staff-9", "ticket", t.id],
          ["ticket.updated", "system", "ticket", t.id],
          ["ticket.assigned", "lead-1", "ticket", t.id],
          ["ticket.created", "staff-1", "ticket", t.id]
        ])
        for (const a of ticketActivities) {
          expect(a.customerId).toBe(t.customerId)
          expect(a.data).toMatchObject({ code: t.code })
          expect(a.summary.length).toBeGreaterThan(0)
        }
        const onlyNotes = yield* notes.activities(phone, { kinds: ["ticket.note"] })
        expect(onlyNotes.items.map((a) => a.kind)).toEqual(["ticket.note"])
        // bad patches: ValidationError, nothing written
        expect((yield* Effect.flip(tickets.update(t.code, { priority: "urgent" as Priority })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(tickets.update(t.code, { status: "completed" } as never)))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(tickets.act(t.code, { action: "note", text: "  " })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(tickets.act(t.code, { action: "fly" } as never)))._tag).toBe("ValidationError")
        // a closed ticket refuses updates
        for (const status of ["completed", "cancelled"] as const) {
          const closed = yield* ticketIn(phone, status)
          const before = yield* stored(closed.code)
          expect(yield* Effect.flip(tickets.update(closed.code, { assignee: "staff-3" }))).toMatchObject({
            _tag: "InvalidTicketAction",
            action: "update",
            reason: "closed"
          })
          expect(yield* Effect.flip(tickets.update(closed.code, { priority: "high" }))).toMatchObject({ reason: "closed" })
          expect(yield* stored(closed.code)).toEqual(before)
        }
      }))

    it.effect("the deadline job raises to high, once, the open tickets whose carrier deadline is less than 24 h away; closed tickets and far deadlines are left alone; a priority lowered by hand stays low", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        const T = inYear(2043)
        yield* TestClock.setTime(T)
        // earlier tests' tickets are due by now: the job takes them first
        yield* tickets.escalateDeadlines()
        expect(yield* tickets.escalateDeadlines()).toEqual({ escalated: 0 })
        const phone = freshPhone()
        const open = (deadline: number | null, priority: Priority = "low") =>
          Effect.map(
            tickets.create({ phone, type: "KHAC", priority, carrierDeadline: deadline === null ? null : new Date(deadline) }),
            (d) => d.ticket
          )
        // the job runs at R, a minute after T; the deadlines are relative to R
        const R = T + 60 * SECOND
        const soon = yield* open(R + 23 * HOUR)
        const overdue = yield* open(R - HOUR, "normal")
        const alreadyHigh = yield* open(R + HOUR, "high")
        const exactly = yield* open(R + 24 * HOUR)
        const far = yield* open(R + 25 * HOUR)
        const none = yield* open(null)
        const moving = yield* ticketIn(phone, "waiting_carrier", { priority: "low", carrierDeadline: new Date(R + 2 * HOUR) })
        const done = yield* ticketIn(phone, "completed", { priority: "low", carrierDeadline: new Date(R + HOUR) })
        const cancelled = yield* ticketIn(phone, "cancelled", { priority: "low", carrierDeadline: new Date(R + HOUR) })
        yield* TestClock.setTime(R)
        const now = R
        const mark = yield* outboxEnd
        expect(yield* tickets.escalateDeadlines({ batchSize: 1 })).toEqual({ escalated: 3 })
        // already high: marked as seen (never looked at again), without a history entry or an event
        const high = yield* stored(alreadyHigh.code)
        expect(high.ticket).toMatchObject({ priority: "high", version: alreadyHigh.version + 1 })
        expect(high.ticket.escalatedAt?.getTime()).toBe(now)
        expect(high.history.map((h) => h.kind)).not.toContain("escalated")
        for (const t of [soon, overdue, moving]) {
          const { history, ticket } = yield* stored(t.code)
          expect(ticket, t.code).toMatchObject({ priority: "high", status: t.status, version: t.version + 1 })
          expect(ticket.escalatedAt?.getTime()).toBe(now)
          expect(history.at(-1)).toMatchObject({
            kind: "escalated",
            actor: "job:ticket-deadlines",
            data: { from: t.priority, to: "high", carrierDeadline: t.carrierDeadline!.toISOString() }
          })
        }
        for (const t of [exactly, far, none, done, cancelled]) {
          const { ticket } = yield* stored(t.code)
          expect(ticket, t.code).toEqual(t)
        }
        const events = yield* ticketEvents(mark)
        expect(events.map((e) => [e.type, dataOf(e).action, dataOf(e).ticket.code]).sort()).toEqual(
          [soon, overdue, moving].map((t) => ["ticket.updated", "escalated", t.code]).sort()
        )
        // once: a second run escalates nothing, and a priority set back by hand is not raised again
        expect(yield* tickets.escalateDeadlines()).toEqual({ escalated: 0 })
        yield* tickets.update(soon.code, { priority: "low" })
        expect(yield* tickets.escalateDeadlines()).toEqual({ escalated: 0 })
        expect((yield* stored(soon.code)).ticket.priority).toBe("low")
        // two hours later the far deadline is 23 h away; the one at exactly 24 h too
        yield* TestClock.adjust(2 * HOUR)
        expect(yield* tickets.escalateDeadlines({ batchSize: 10, maxBatches: 1 })).toEqual({ escalated: 2 })
        expect((yield* stored(far.code)).ticket.priority).toBe("high")
        expect((yield* stored(exactly.code)).ticket.priority).toBe("high")
        expect((yield* stored(none.code)).ticket.priority).toBe("low")
        // maxBatches bounds a run; what is left is taken by the next
        yield* open(now + 2 * HOUR + HOUR)
        yield* open(now + 2 * HOUR + HOUR)
        expect(yield* tickets.escalateDeadlines({ batchSize: 1, maxBatches: 1 })).toEqual({ escalated: 1 })
        expect(yield* tickets.escalateDeadlines({ batchSize: 1 })).toEqual({ escalated: 1 })
        expect((yield* Effect.flip(tickets.escalateDeadlines({ batchSize: 0 })))._tag).toBe("ValidationError")
      }))

    it.effect("list filters by status, type and phone, newest first, in pages; get of an unknown or malformed code is TicketNotFound", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        yield* TestClock.setTime(inYear(2044))
        const phone = freshPhone()
        const made: Array<Ticket> = []
        for (const [type, status] of [["BOOM", "new"], ["HOAN", "cancelled"], ["BOOM", "processing"], ["DOI", "new"], ["BOOM", "cancelled"]] as const) {
          yield* TestClock.adjust(SECOND)
          made.push(yield* ticketIn(phone, status, { type }))
        }
        const newestFirst = [...made].reverse().map((t) => t.code)
        const all = yield* tickets.list({ phone })
        expect(all).toMatchObject({ total: 5, page: 1, limit: 20 })
        expect(all.items.map((t) => t.code)).toEqual(newestFirst)
        const pages = []
        for (const page of [1, 2, 3]) {
          const p = yield* tickets.list({ phone: `+84${phone.slice(1)}`, page, limit: 2 })
          expect(p).toMatchObject({ total: 5, page, limit: 2 })
          pages.push(...p.items.map((t) => t.code))
        }
        expect(pages).toEqual(newestFirst)
        expect((yield* tickets.list({ phone, page: 4, limit: 2 })).items).toEqual([])
        const booms = yield* tickets.list({ phone, type: "BOOM" })
        expect(booms.items.map((t) => t.code)).toEqual(newestFirst.filter((c) => made.find((t) => t.code === c)!.type === "BOOM"))
        expect(booms.total).toBe(3)
        const cancelledBooms = yield* tickets.list({ phone, type: "BOOM", status: "cancelled" })
        expect(cancelledBooms.items.map((t) => t.code)).toEqual([made[4]!.code])
        // across customers: only the status asked for, mine among them
        const cancelled = yield* tickets.list({ status: "cancelled", limit: 100 })
        expect(cancelled.items.every((t) => t.status === "cancelled")).toBe(true)
        expect(cancelled.items.map((t) => t.code)).toEqual(expect.arrayContaining([made[1]!.code, made[4]!.code]))
        expect(cancelled.total).toBeGreaterThanOrEqual(2)
        const doi = yield* tickets.list({ type: "DOI", limit: 100 })
        expect(doi.items.every((t) => t.type === "DOI")).toBe(true)
        expect((yield* tickets.list()).items.length).toBeGreaterThan(0)
        expect((yield* Effect.flip(tickets.list({ phone: freshPhone() })))._tag).toBe("CustomerNotFound")
        expect((yield* Effect.flip(tickets.list({ limit: 0 })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(tickets.list({ status: "open" as TicketStatus })))._tag).toBe("ValidationError")
        // get: the code in any case, trimmed; unknown or malformed: TicketNotFound
        const code = made[0]!.code
        expect((yield* tickets.get(` ${code.toLowerCase()} `)).ticket.code).toBe(code)
        for (const bad of ["TV-2099-99999", "TV-2044-99999", "TV-2044-1", "hello", "", "TV-2044-000001"]) {
          expect(yield* Effect.flip(tickets.get(bad)), bad).toMatchObject({ _tag: "TicketNotFound" })
          expect((yield* Effect.flip(tickets.act(bad, { action: "note", text: "x" })))._tag).toBe("TicketNotFound")
          expect((yield* Effect.flip(tickets.update(bad, { priority: "high" })))._tag).toBe("TicketNotFound")
          expect((yield* Effect.flip(tickets.cancel(bad)))._tag).toBe("TicketNotFound")
        }
        expect((yield* Effect.flip(tickets.get(42 as unknown as string)))._tag).toBe("ValidationError")
      }))

    it.effect("events: a ticket's life is published on the tickets channel with the customer as subject, in order, with the stored code and state", () =>
      Effect.gen(function*() {
        const tickets = yield* Tickets
        yield* TestClock.setTime(inYear(2045))
        const phone = freshPhone()
        const mark = yield* outboxEnd
        const { ticket } = yield* tickets.create({ phone, type: "BOOM", amount: 5_000 })
        const steps: ReadonlyArray<Parameters<TicketsShape["act"]>[1]> = [
          { action: "transition", to: "processing" },
          { action: "note", text: "đã gọi khách" },
          { action: "approve_boom" },
          { action: "transition", to: "waiting_carrier" },
          { action: "transition", to: "completed" }
        ]
        for (const step of steps) {
          yield* TestClock.adjust(SECOND)
          yield* tickets.act(ticket.code, step)
        }
        const final = (yield* stored(ticket.code)).ticket
        const all = yield* eventsSince(mark)
        const events = all.filter((e) => e.channel === "tickets")
        expect(all.filter((e) => e.type.startsWith("ticket.")).length).toBe(events.length)
        expect(events.map((e) => [e.type, dataOf(e).action ?? null, dataOf(e).ticket.status])).toEqual([
          ["ticket.created", null, "new"],
          ["ticket.updated", "transition", "processing"],
          ["ticket.updated", "note", "processing"],
          ["ticket.updated", "approve_boom", "processing"],
          ["ticket.updated", "transition", "waiting_carrier"],
          ["ticket.completed", null, "completed"]
        ])
        for (const e of events) {
          expect(e.subject).toBe(ticket.customerId)
          expect(dataOf(e).ticket).toMatchObject({ code: ticket.code, id: ticket.id, customerId: ticket.customerId, type: "BOOM" })
          expect(dataOf(e).ticket.updatedAt).toBe(e.occurredAt.toISOString())
        }
        expect(JSON.stringify(events)).not.toContain("@@")
        expect(dataOf(events.at(-1)!).ticket).toMatchObject({
          completedAt: final.completedAt!.toISOString(),
          updatedAt: final.updatedAt.toISOString()
        })
        // positions increase
        const positions = events.map((e) => Number(e.position))
        expect([...positions].sort((a, b) => a - b)).toEqual(positions)
      }))

    it.effect("model-based: random creations, transitions, cancellations, special actions, notes and updates agree with a model of status, priority, special actions done, statistics and wallets", () =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Tickets | Wallets | Customers | SqlClient.SqlClient>()
        const run = Runtime.runPromise(runtime)
        const YEAR = 2046
        yield* TestClock.setTime(inYear(YEAR))
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.array(createCommand, { minLength: 1, maxLength: 3 }), fc.commands(commands, { maxCommands: 12, size: "max" }), async (initial, cmds) => {
              const phones = [freshPhone(), freshPhone()]
              const model: Model = {
                year: YEAR,
                last: await run(counterOf(YEAR)),
                tickets: [],
                wallets: phones.map(() => ({ balance: 0, credits: 0 })),
                stats: phones.map(() => emptyStats())
              }
              const real: Real = { run, phones }
              // every run starts with a ticket or more, so that every command has one to act on
              for (const create of initial) await create.run(model, real)
              const setup = () => ({ model, real })
              await fc.asyncModelRun(setup, cmds)
              await agreeAll(model, real)
              expect((await run(auditLedger)).violations).toEqual([])
            }),
            { numRuns: options.modelRuns ?? 15 }
          )
        )
      }), { timeout: 120_000 })
  })

// --- the reference model -------------------------------------------------------------------------

const TYPES: ReadonlyArray<TicketType> = ["BOOM", "DOI", "THIEU", "HOAN", "KHAC"]
const SPECIAL_TYPE: Record<SpecialAction, TicketType> = { approve_boom: "BOOM", refund: "HOAN", exchange: "DOI" }

interface ModelTicket {
  readonly code: string
  readonly phone: number
  readonly type: TicketType
  readonly amount: number | null
  status: TicketStatus
  priority: Priority
  version: number
  history: number
  /** The special actions done, with the amount recorded. */
  readonly done: Map<SpecialAction, number | undefined>
}
type Stats = Record<"completed" | "boom" | "doi" | "thieu" | "hoan" | "khac" | "returns", number>
const emptyStats = (): Stats => ({ completed: 0, boom: 0, doi: 0, thieu: 0, hoan: 0, khac: 0, returns: 0 })
interface Model {
  readonly year: number
  last: number
  readonly tickets: Array<ModelTicket>
  readonly wallets: Array<{ balance: number; credits: number }>
  readonly stats: Array<Stats>
}
interface Real {
  readonly run: <A, E>(effect: Effect.Effect<A, E, Tickets | Wallets | Customers | SqlClient.SqlClient>) => Promise<A>
  readonly phones: ReadonlyArray<string>
}

const isOpenStatus = (s: TicketStatus) => s !== "completed" && s !== "cancelled"

const attempt = <A>(r: Real, f: (t: TicketsShape) => Effect.Effect<A, { readonly _tag: string }>) =>
  r.run(Effect.either(Effect.flatMap(Tickets, f)))

/**
 * The real ticket must show what the model holds; with `wallet` or `stats`, its customer's wallet or
 * statistics too (after the commands that may change them; every one of them at the end of a run).
 */
const agree = async (m: Model, r: Real, t: ModelTicket, parts: { readonly wallet?: boolean; readonly stats?: boolean } = {}) => {
  const { history, ticket } = await r.run(stored(t.code))
  expect({ status: ticket.status, priority: ticket.priority, version: ticket.version, history: history.length, amount: ticket.amount })
    .toEqual({ status: t.status, priority: t.priority, version: t.version, history: t.history, amount: t.amount })
  for (const kind of ["approve_boom", "refund", "exchange"] as const) {
    expect(history.filter((h) => h.kind === kind).length, kind).toBe(t.done.has(kind) ? 1 : 0)
  }
  if (parts.wallet) await agreeWallet(m, r, t.phone)
  if (parts.stats) await agreeStats(m, r, t.phone)
}
const agreeWallet = async (m: Model, r: Real, phone: number) => {
  const wallet = await r.run(Effect.flatMap(Wallets, (w) => w.get(r.phones[phone]!)))
  expect({ balance: wallet.balance, virtual: wallet.virtualBalance }).toEqual({
    balance: m.wallets[phone]!.balance,
    virtual: m.wallets[phone]!.credits
  })
}
const agreeStats = async (m: Model, r: Real, phone: number) => {
  const stats = await r.run(Effect.flatMap(Tickets, (s) => s.stats(r.phones[phone]!)))
  const { customerId: _, lastCompletedAt: __, ...counts } = stats
  expect(counts).toEqual(m.stats[phone])
}
/** Every wallet and statistics of the run (each ticket was compared after the last command on it). */
const agreeAll = async (m: Model, r: Real) => {
  for (let phone = 0; phone < r.phones.length; phone++) {
    // a phone no ticket was opened for has no customer
    if (!m.tickets.some((t) => t.phone === phone)) continue
    await agreeWallet(m, r, phone)
    await agreeStats(m, r, phone)
  }
}

const pick = (m: Readonly<Model>, i: number) => m.tickets[i % m.tickets.length]!

/** The model's side of a successful write. */
const wrote = (t: ModelTicket) => {
  t.version += 1
  t.history += 1
}

class Create implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly phone: number,
    readonly type: TicketType,
    readonly amount: number | null,
    readonly note: boolean,
    readonly priority: Priority | undefined
  ) {}
  check = () => true
  async run(m: Model, r: Real) {
    const input = {
      phone: r.phones[this.phone]!,
      type: this.type,
      amount: this.amount,
      ...(this.note ? { note: "model" } : {}),
      ...(this.priority === undefined ? {} : { priority: this.priority })
    }
    const { history, ticket } = Either.getOrThrow(await attempt(r, (t) => t.create(input)))
    m.last += 1
    expect(parseCode(ticket.code)).toEqual({ year: m.year, number: m.last })
    expect(history).toHaveLength(this.note ? 2 : 1)
    const t: ModelTicket = {
      code: ticket.code,
      phone: this.phone,
      type: this.type,
      amount: this.amount,
      status: "new",
      priority: this.priority ?? "normal",
      version: 0,
      history: history.length,
      done: new Map()
    }
    m.tickets.push(t)
    await agree(m, r, t)
  }
  toString = () => `create(#${this.phone}, ${this.type}, ${this.amount}${this.note ? ", note" : ""}${this.priority ? `, ${this.priority}` : ""})`
}

class Transition implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ticket: number, readonly to: TicketStatus) {}
  check = (m: Readonly<Model>) => m.tickets.length > 0
  async run(m: Model, r: Real) {
    const t = pick(m, this.ticket)
    const result = await attempt(r, (s) => s.act(t.code, { action: "transition", to: this.to }))
    if (TRANSITIONS[t.status].includes(this.to)) {
      expect(Either.getOrThrow(result).ticket.status).toBe(this.to)
      if (this.to === "completed") {
        const s = m.stats[t.phone]!
        s.completed += 1
        s[t.type.toLowerCase() as "boom"] += 1
        if (t.type === "BOOM" || t.type === "HOAN") s.returns += 1
      }
      t.status = this.to
      wrote(t)
    } else {
      expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "InvalidTransition", from: t.status, to: this.to })
    }
    await agree(m, r, t, { stats: true })
  }
  toString = () => `transition(#${this.ticket}, ${this.to})`
}

class Cancel implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ticket: number) {}
  check = (m: Readonly<Model>) => m.tickets.length > 0
  async run(m: Model, r: Real) {
    const t = pick(m, this.ticket)
    const result = await attempt(r, (s) => s.cancel(t.code))
    if (t.status === "completed") {
      expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "InvalidTransition", from: "completed", to: "cancelled" })
    } else {
      expect(Either.getOrThrow(result).status).toBe("cancelled")
      if (t.status !== "cancelled") wrote(t)
      t.status = "cancelled"
    }
    await agree(m, r, t, { stats: true })
  }
  toString = () => `cancel(#${this.ticket})`
}

/** The amount of a special action: none, a fixed one, or the ticket's own amount (if any) less 1 000, exactly, or plus 1 000. */
type AmountChoice = undefined | { readonly fixed: number } | { readonly ticketPlus: -1_000 | 0 | 1_000 }
const amountFor = (choice: AmountChoice, t: ModelTicket): number | undefined =>
  choice === undefined
    ? undefined
    : "fixed" in choice
    ? choice.fixed
    : t.amount === null
    ? 1_000
    : t.amount + choice.ticketPlus

/** The special action of a ticket's own type (BOOM: approve_boom, HOAN: refund, DOI: exchange; else approve_boom). */
const OWN: Record<TicketType, SpecialAction> = { BOOM: "approve_boom", HOAN: "refund", DOI: "exchange", THIEU: "approve_boom", KHAC: "approve_boom" }

class Special implements fc.AsyncCommand<Model, Real> {
  kind: SpecialAction = "approve_boom"
  constructor(readonly ticket: number, readonly choice: SpecialAction | "own", readonly amount: AmountChoice) {}
  check = (m: Readonly<Model>) => m.tickets.length > 0
  async run(m: Model, r: Real) {
    const t = pick(m, this.ticket)
    this.kind = this.choice === "own" ? OWN[t.type] : this.choice
    const chosen = amountFor(this.amount, t)
    const given = this.kind === "exchange" ? undefined : this.kind === "refund" ? (chosen ?? 1_000) : chosen
    const input = this.kind === "approve_boom"
      ? { action: "approve_boom" as const, ...(given === undefined ? {} : { amount: given }) }
      : this.kind === "refund"
      ? { action: "refund" as const, amount: given! }
      : { action: "exchange" as const }
    const result = await attempt(r, (s) => s.act(t.code, input))
    const refused = (reason: string) =>
      expect(Either.isLeft(result) && result.left, `${this}`).toMatchObject({ _tag: "InvalidTicketAction", action: this.kind, reason })
    if (t.done.has(this.kind)) {
      const recorded = t.done.get(this.kind)
      if (given !== undefined && given !== recorded) refused("already_done")
      else expect(Either.getOrThrow(result).repeated).toBe(true)
    } else if (t.type !== SPECIAL_TYPE[this.kind]) {
      refused("wrong_type")
    } else if (!isOpenStatus(t.status)) {
      refused("closed")
    } else if (this.kind === "approve_boom" && (given ?? t.amount) === null) {
      refused("no_amount")
    } else if (this.kind === "refund" && t.amount !== null && given! > t.amount) {
      refused("over_amount")
    } else {
      const ok = Either.getOrThrow(result)
      expect(ok.repeated).toBe(false)
      const w = m.wallets[t.phone]!
      if (this.kind === "approve_boom") {
        const amount = (given ?? t.amount)!
        expect(ok.credit?.credit.amount).toBe(amount)
        w.credits += amount
        t.done.set(this.kind, amount)
      } else if (this.kind === "refund") {
        expect(ok.deposit).not.toBeNull()
        w.balance += given!
        t.done.set(this.kind, given)
      } else {
        t.done.set(this.kind, undefined)
      }
      wrote(t)
    }
    await agree(m, r, t, { wallet: true })
  }
  toString = () => `special(#${this.ticket}, ${this.choice}${this.amount === undefined ? "" : `, ${JSON.stringify(this.amount)}`})`
}

class AddNote implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ticket: number) {}
  check = (m: Readonly<Model>) => m.tickets.length > 0
  async run(m: Model, r: Real) {
    const t = pick(m, this.ticket)
    // a note is history: it is taken on closed tickets too
    Either.getOrThrow(await attempt(r, (s) => s.act(t.code, { action: "note", text: "model note" })))
    wrote(t)
    await agree(m, r, t)
  }
  toString = () => `note(#${this.ticket})`
}

class Update implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ticket: number, readonly priority: Priority) {}
  check = (m: Readonly<Model>) => m.tickets.length > 0
  async run(m: Model, r: Real) {
    const t = pick(m, this.ticket)
    const result = await attempt(r, (s) => s.update(t.code, { priority: this.priority }))
    if (isOpenStatus(t.status)) {
      expect(Either.getOrThrow(result).priority).toBe(this.priority)
      t.priority = this.priority
      wrote(t)
    } else {
      expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "InvalidTicketAction", reason: "closed" })
    }
    await agree(m, r, t)
  }
  toString = () => `update(#${this.ticket}, ${this.priority})`
}

const ticketIndex = fc.nat({ max: 20 })
const priority = fc.constantFrom<Priority>("low", "normal", "high")
const money = fc.integer({ min: 1, max: 30 }).map((n) => n * 10_000)
const createCommand = fc.tuple(
    fc.integer({ min: 0, max: 1 }),
    fc.constantFrom(...TYPES, "BOOM", "HOAN", "DOI"),
    fc.option(money, { nil: null, freq: 4 }),
    fc.boolean(),
    fc.option(priority, { nil: undefined })
  ).map(([p, type, amount, note, prio]) => new Create(p, type, amount, note, prio))
const commands = [
  createCommand,
  fc.tuple(ticketIndex, fc.constantFrom(...STATUSES)).map(([i, to]) => new Transition(i, to)),
  ticketIndex.map((i) => new Cancel(i)),
  fc.tuple(
    ticketIndex,
    fc.oneof(
      { arbitrary: fc.constant("own" as const), weight: 3 },
      { arbitrary: fc.constantFrom<SpecialAction>("approve_boom", "refund", "exchange"), weight: 1 }
    ),
    fc.oneof(
      { arbitrary: fc.constant(undefined), weight: 1 },
      { arbitrary: money.map((fixed) => ({ fixed })), weight: 1 },
      { arbitrary: fc.constantFrom(-1_000 as const, 0 as const, 1_000 as const).map((ticketPlus) => ({ ticketPlus })), weight: 2 }
    )
  ).map(([i, kind, amount]) => new Special(i, kind, amount)),
  ticketIndex.map((i) => new AddNote(i)),
  fc.tuple(ticketIndex, priority).map(([i, p]) => new Update(i, p))
]
