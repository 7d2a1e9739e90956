/**
 * The merge contract of the modules that hold rows of a customer (DOMAIN §9a, docs/merge.md): notes
 * and activities, tickets (with their history and statistics), bank transfers, purchases (with their
 * lines and returns, the figures, points and level), fraud decisions and flags (a colliding one stays).
 * Two customers with all of it are merged: every moved row points to the survivor and is journaled,
 * the survivor's figures are the sums, the merged profile's are zero, the survivor's timeline and 360
 * view show everything, the dry run writes nothing and predicts the merge, a repeat changes nothing,
 * and the RFM recomputation, the fraud run and the statistics leave the merged profile out.
 * Run on SQLite, deferred SQLite, PostgreSQL and D1 (merge.modules.*.test.ts).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import { Customers } from "../../src/customers/Customers.js"
import { Fraud } from "../../src/fraud/FraudService.js"
import { Notes } from "../../src/notes/Notes.js"
import { Purchases } from "../../src/purchases/Purchases.js"
import { Rfm } from "../../src/purchases/RfmService.js"
import { Stats } from "../../src/stats/Stats.js"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { Tickets } from "../../src/tickets/Tickets.js"
import { Timeline } from "../../src/timeline/Timeline.js"
import { Transfers } from "../../src/transfers/Transfers.js"
import { Wallets } from "../../src/wallets/Wallets.js"
import { freshPhone, freshWord } from "./customers.js"
import { comparable } from "./merge.js"
import { differences, freshRef, snapshot } from "./purchases.js"
import { AUTHORIZATION, sepayBody, servicesWithTransfers } from "./transfers.js"

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
/** Above the wallet-abuse rule's 5,000,000: six of them within an hour flag `suspicious`. */
const BIG = 6_000_000

/** The tables a merge re-points, with the expression of a row's id in the journal. */
const MOVED: ReadonlyArray<readonly [string, string]> = [
  ["c360_notes", "id"],
  ["c360_activities", "id"],
  ["c360_tickets", "id"],
  ["c360_ticket_actions", "id"],
  ["c360_bank_transfers", "id"],
  ["c360_purchases", "id"],
  ["c360_purchase_items", "purchase_id || ':' || CAST(line AS TEXT)"],
  ["c360_purchase_returns", "id"],
  ["c360_fraud_decisions", "id"],
  ["c360_fraud_flags", "id"]
]

const num = (v: unknown) => Number(v)

const countOf = (table: string, customerId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: unknown }>`SELECT count(*) AS n FROM ${sql(table)} WHERE customer_id = ${customerId}`).pipe(
    Effect.map((rows) => num(rows[0]?.n)),
    Effect.orDie
  )

const figures = (customerId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<Record<string, unknown>>`SELECT total_orders, total_spent, points, membership_level, last_purchase_at, purchase_version
      FROM c360_customers WHERE id = ${customerId}`).pipe(
    Effect.map((rows) => {
      const r = rows[0]!
      return {
        totalOrders: num(r.total_orders),
        totalSpent: num(r.total_spent),
        points: num(r.points),
        level: String(r.membership_level),
        lastPurchaseAt: r.last_purchase_at === null ? null : num(r.last_purchase_at),
        purchaseVersion: num(r.purchase_version)
      }
    }),
    Effect.orDie
  )

const rfmRow = (customerId: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql<Record<string, unknown>>`SELECT * FROM c360_rfm WHERE customer_id = ${customerId}`).pipe(
    Effect.map((rows) => (rows[0] === undefined ? null : Object.fromEntries(Object.entries(rows[0]).map(([k, v]) => [k, String(v)])))),
    Effect.orDie
  )

const setTime = (at: number) => TestClock.setTime(at)

export const mergeModulesContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  options: { readonly notes?: number } = {}
) =>
  layer(servicesWithTransfers(storage), { timeout: "300 seconds" })(name, (it) => {
    /**
     * Two customers with notes, tickets (completed ones too), transfers, purchases with a return,
     * and fraud decisions and flags: one decision and one active flag of the merged profile collide
     * with the survivor's (same rule and window; same active flag), one decision and one cleared
     * flag do not. `T` is 10:30 in Hanoi on the day of the first fraud episode.
     */
    const world = (T: number) =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const notes = yield* Notes
        const tickets = yield* Tickets
        const transfers = yield* Transfers
        const purchases = yield* Purchases
        const wallets = yield* Wallets
        const fraud = yield* Fraud
        const word = freshWord()
        yield* setTime(T - 40 * DAY)
        const survivor = yield* customers.create({ phone: freshPhone(), name: `Survivor ${word}` })
        const merged = yield* customers.create({ phone: freshPhone(), name: `Duplicate ${word}` })
        const noteCount = options.notes ?? 3
        for (let i = 0; i < noteCount; i++) yield* notes.add(merged.phone!, { text: `merged note ${i} ${word}` }, { actor: "staff:lan" })
        yield* notes.add(survivor.phone!, { text: `survivor note ${word}` })
        // tickets: the merged profile has an open one and a completed one; the survivor a completed one
        const complete = (phone: string, type: "BOOM" | "KHAC" | "DOI") =>
          Effect.gen(function*() {
            const t = yield* tickets.create({ phone, type } as never)
            for (const to of ["processing", "waiting_carrier", "completed"]) yield* tickets.act(t.ticket.code, { action: "transition", to })
            return t.ticket.code
          })
        yield* setTime(T - 30 * DAY)
        const openTicket = (yield* tickets.create({ phone: merged.phone!, type: "KHAC" } as never)).ticket.code
        const mergedCompleted = yield* complete(merged.phone!, "DOI")
        yield* complete(survivor.phone!, "KHAC")
        // transfers matched by payment code
        yield* transfers.receiveSepay(sepayBody({ content: `CK ${merged.paymentCode} don hang`, amount: 150_000 }), AUTHORIZATION)
        yield* transfers.receiveSepay(sepayBody({ content: `CK ${survivor.paymentCode} don hang`, amount: 250_000 }), AUTHORIZATION)
        // purchases: the merged profile 2,000,000 + 1,500,000 less a return of 500,000; the survivor 4,000,000
        const p1 = freshRef("m-p1")
        yield* setTime(T - 20 * DAY)
        yield* purchases.record({ phone: merged.phone!, amount: 2_000_000, reference: p1, items: [{ productId: "sku-1", name: "Áo", quantity: 2, unitPrice: 1_000_000 }] } as never)
        yield* setTime(T - 10 * DAY)
        yield* purchases.record({ phone: merged.phone!, amount: 1_500_000, reference: freshRef("m-p2") })
        yield* purchases.recordReturn({ purchaseReference: p1, amount: 500_000, reference: freshRef("m-r1") })
        yield* setTime(T - 15 * DAY)
        yield* purchases.record({ phone: survivor.phone!, amount: 4_000_000, reference: freshRef("s-p1") })
        // fraud: the same six large deposits at the same instants → the same window on both (a collision)
        const offsets = [0, 5, 10, 15, 20, 25].map((m) => m * MINUTE)
        const deposits = (phone: string, start: number) =>
          Effect.forEach(offsets, (o) =>
            Effect.zipRight(setTime(start + o), wallets.deposit({ phone, amount: BIG, source: "manual", reference: freshRef("dep") })))
        yield* deposits(survivor.phone!, T)
        yield* deposits(merged.phone!, T)
        yield* setTime(T + 2 * HOUR)
        yield* fraud.run()
        // the merged profile's flag cleared; a second episode a day later: a decision of its own and a new active flag
        yield* fraud.clearFlag({ phone: merged.phone!, flag: "suspicious", reason: "checked", actor: "staff:lan" })
        yield* deposits(merged.phone!, T + DAY)
        yield* setTime(T + DAY + 2 * HOUR)
        yield* fraud.run()
        // activity the next fraud run would flag, were the merged profile not left out
        yield* deposits(merged.phone!, T + 3 * DAY)
        yield* setTime(T + 3 * DAY + 30 * MINUTE)
        return { survivor, merged, openTicket, mergedCompleted }
      }).pipe(Effect.orDie)

    it.effect("every note, activity, ticket, ticket action, transfer, purchase (its lines) and return of the merged profile moves to the survivor, journaled as moved; colliding fraud rows stay; the dry run writes nothing and predicts it; a repeat changes nothing", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const sql = yield* SqlClient.SqlClient
        const T = Date.UTC(2045, 0, 10, 3, 30)
        const { merged, survivor } = yield* world(T)
        const activities = yield* countOf("c360_activities", merged.id)
        const actions = yield* countOf("c360_ticket_actions", merged.id)
        const mergedBefore = yield* figures(merged.id)
        const survivorBefore = yield* figures(survivor.id)
        expect(mergedBefore).toMatchObject({ totalOrders: 2, totalSpent: 3_000_000, points: 300, level: "silver" })
        expect(survivorBefore).toMatchObject({ totalOrders: 1, totalSpent: 4_000_000, points: 400, level: "silver" })
        expect(yield* countOf("c360_fraud_decisions", merged.id)).toBe(2)
        expect(yield* countOf("c360_fraud_flags", merged.id)).toBe(2)

        // the dry run: nothing written at all
        const before = yield* snapshot
        const preview = yield* customers.merge({ survivorId: survivor.id, mergedIds: [merged.id] })
        expect(differences(before, yield* snapshot)).toEqual([])
        const expected = {
          notes: { notes: options.notes ?? 3, activities },
          tickets: { tickets: 2, actions, completed: 1 },
          transfers: { transfers: 1 },
          purchases: { purchases: 2, returns: 1, totalOrders: 2, totalSpent: 3_000_000, points: 300 },
          fraud: { decisions: { moved: 1, stayed: 1 }, flags: { moved: 1, stayed: 1 } }
        }
        expect(preview.moved).toEqual([{ customerId: merged.id, parts: expect.objectContaining(expected) }])

        // the merge
        const result = yield* customers.merge({ survivorId: survivor.id, mergedIds: [merged.id], dryRun: false })
        expect(comparable(result)).toEqual(comparable(preview))
        const mergeId = result.mergeId!

        // every moved row points to the survivor, and is journaled as moved, once
        for (const [table, id] of MOVED) {
          const journal = yield* sql<{ row_id: string }>`SELECT row_id FROM c360_merge_rows
            WHERE merge_id = ${mergeId} AND table_name = ${table} AND action = 'moved'`
          expect({ table, journaled: journal.length > 0 }).toEqual({ table, journaled: true })
          const moved = yield* sql<{ id: string; customer_id: string }>`SELECT ${sql.literal(id)} AS id, customer_id FROM ${sql(table)}
            WHERE ${sql.literal(id)} IN ${sql.in(journal.map((j) => j.row_id))}`
          expect({ table, rows: moved.length }).toEqual({ table, rows: journal.length })
          expect(moved.filter((r) => r.customer_id !== survivor.id)).toEqual([])
        }
        const movedCount = (table: string) =>
          Effect.map(
            sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_merge_rows WHERE merge_id = ${mergeId} AND table_name = ${table} AND action = 'moved'`,
            (r) => num(r[0]?.n)
          )
        expect(yield* movedCount("c360_notes")).toBe(options.notes ?? 3)
        expect(yield* movedCount("c360_activities")).toBe(activities)
        expect(yield* movedCount("c360_tickets")).toBe(2)
        expect(yield* movedCount("c360_ticket_actions")).toBe(actions)
        expect(yield* movedCount("c360_bank_transfers")).toBe(1)
        expect(yield* movedCount("c360_purchases")).toBe(2)
        expect(yield* movedCount("c360_purchase_items")).toBe(1)
        expect(yield* movedCount("c360_purchase_returns")).toBe(1)
        expect(yield* movedCount("c360_fraud_decisions")).toBe(1)
        expect(yield* movedCount("c360_fraud_flags")).toBe(1)
        // nothing of those is left on the merged profile but the colliding fraud rows (and the merge's activity)
        for (const table of ["c360_notes", "c360_tickets", "c360_ticket_actions", "c360_bank_transfers", "c360_purchases", "c360_purchase_items", "c360_purchase_returns"]) {
          expect({ table, n: yield* countOf(table, merged.id) }).toEqual({ table, n: 0 })
        }
        const left = yield* sql<{ kind: string }>`SELECT kind FROM c360_activities WHERE customer_id = ${merged.id}`
        expect(left.map((a) => a.kind)).toEqual(["customer.merged"])
        const stayedDecision = yield* sql<Record<string, unknown>>`SELECT d.window_from FROM c360_fraud_decisions d
          WHERE d.customer_id = ${merged.id}
            AND EXISTS (SELECT 1 FROM c360_fraud_decisions s WHERE s.customer_id = ${survivor.id} AND s.rule_id = d.rule_id
              AND s.window_from = d.window_from AND s.window_to = d.window_to)`
        expect(stayedDecision.map((d) => num(d.window_from))).toEqual([T])
        const flags = yield* sql<{ customer_id: string; cleared: unknown }>`SELECT customer_id,
            CASE WHEN cleared_at IS NULL THEN 0 ELSE 1 END AS cleared
          FROM c360_fraud_flags WHERE customer_id IN (${survivor.id}, ${merged.id}) ORDER BY customer_id, cleared`
        expect(flags.map((f) => [f.customer_id === survivor.id ? "S" : "M", num(f.cleared)]).sort()).toEqual([["M", 0], ["S", 0], ["S", 1]])

        // the figures: the survivor's are the sums, the merged profile's zero; both versions stepped
        // (the survivor's once more when the RFM refresh after the commit changes its tier)
        const mergedAfter = yield* figures(merged.id)
        const { purchaseVersion: survivorVersion, ...survivorAfter } = yield* figures(survivor.id)
        expect(survivorVersion).toBeGreaterThan(survivorBefore.purchaseVersion)
        expect(survivorAfter).toEqual({
          totalOrders: 3,
          totalSpent: 7_000_000,
          points: 700,
          level: "gold",
          lastPurchaseAt: Math.max(mergedBefore.lastPurchaseAt!, survivorBefore.lastPurchaseAt!)
        })
        expect(mergedAfter).toEqual({
          totalOrders: 0,
          totalSpent: 0,
          points: 0,
          level: "bronze",
          lastPurchaseAt: null,
          purchaseVersion: mergedBefore.purchaseVersion + 1
        })
        const membership = yield* Effect.flatMap(Purchases, (p) => p.membership(survivor.phone!))
        expect(membership).toMatchObject({ level: "gold", discount: 15, totalSpent: 7_000_000, points: 700 })
        // the survivor's RFM score was refreshed after the commit, on all its purchases
        expect(yield* rfmRow(survivor.id)).toMatchObject({ monetary: "7000000", frequency: "3" })

        // ticket statistics: added into the survivor's, the merged profile's zeroed, the change journaled
        const tickets = yield* Tickets
        expect(yield* tickets.stats(survivor.phone!)).toMatchObject({ completed: 2, khac: 1, doi: 1 })
        const zeroed = yield* sql<Record<string, unknown>>`SELECT completed, doi FROM c360_ticket_stats WHERE customer_id = ${merged.id}`
        expect(zeroed.map((r) => [num(r.completed), num(r.doi)])).toEqual([[0, 0]])
        const changed = yield* sql<{ row_id: string; data: string }>`SELECT row_id, data FROM c360_merge_rows
          WHERE merge_id = ${mergeId} AND table_name = 'c360_ticket_stats' AND action = 'changed'`
        expect(changed.map((c) => c.row_id)).toEqual([merged.id])
        expect(JSON.parse(changed[0]!.data)).toMatchObject({ before: { completed: 1, doi: 1 }, survivorBefore: { completed: 1, khac: 1 } })

        // a repeat changes nothing
        const settled = yield* snapshot
        const again = yield* customers.merge({ survivorId: survivor.id, mergedIds: [merged.id], dryRun: false })
        expect(again).toMatchObject({ repeated: true, mergedIds: [], alreadyMerged: [merged.id], moved: [] })
        expect(differences(settled, yield* snapshot)).toEqual([])
      }))

    it.effect("the survivor's timeline and 360 view show what the merged profile held; the RFM recomputation, the fraud run and the statistics leave the merged profile out", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const sql = yield* SqlClient.SqlClient
        const T = Date.UTC(2046, 0, 10, 3, 30)
        const { merged, mergedCompleted, openTicket, survivor } = yield* world(T)
        const mergedNotes = yield* sql<{ id: string }>`SELECT id FROM c360_notes WHERE customer_id = ${merged.id}`
        const mergedTransfers = yield* sql<{ id: string }>`SELECT id FROM c360_bank_transfers WHERE customer_id = ${merged.id}`
        const stats = yield* Stats
        const overview = yield* stats.overview()
        const mergedRfm = yield* rfmRow(merged.id)
        expect(mergedRfm).not.toBeNull()

        yield* customers.merge({ survivorId: survivor.id, mergedIds: [merged.id], dryRun: false })

        // the timeline of the survivor: the merged profile's notes, transfer and ticket history
        const timeline = yield* Effect.flatMap(Timeline, (t) => t.timeline(survivor.phone!, { limit: 100 }))
        const ids = new Set(timeline.items.map((i) => i.id))
        for (const n of mergedNotes) expect(ids.has(n.id)).toBe(true)
        for (const t of mergedTransfers) expect(ids.has(t.id)).toBe(true)
        expect(timeline.items.filter((i) => i.kind === "ticket").length).toBeGreaterThanOrEqual(7)
        // the 360 view of the survivor (and through the merged phone): tickets, transfers, purchases, notes, fraud
        for (const phone of [survivor.phone!, merged.phone!]) {
          const view = yield* customers.view360(phone) as Effect.Effect<any>
          expect(view.customer.id).toBe(survivor.id)
          expect(view.tickets.map((t: { code: string }) => t.code)).toEqual(expect.arrayContaining([openTicket, mergedCompleted]))
          expect(view.transfers.map((t: { id: string }) => t.id)).toEqual(expect.arrayContaining(mergedTransfers.map((t) => t.id)))
          expect(view.purchases).toHaveLength(3)
          expect(view.notes.items.map((n: { id: string }) => n.id)).toEqual(expect.arrayContaining(mergedNotes.map((n) => n.id)))
          expect(view.fraud.decisions.length).toBe(2)
          expect(view.membership).toMatchObject({ level: "gold", totalSpent: 7_000_000 })
        }

        // the statistics: one customer fewer, the same revenue and orders (the figures moved)
        const after = yield* stats.overview()
        expect(after.customers).toBe(overview.customers - 1)
        expect((after as any).orders).toBe((overview as any).orders)
        expect((after as any).revenue).toBe((overview as any).revenue)
        const top = yield* sql<{ id: string }>`SELECT id FROM c360_customers WHERE id = ${merged.id} AND merged_into IS NULL`
        expect(top).toEqual([])

        // the RFM recomputation scores the survivor and leaves the merged profile's row as it was
        yield* setTime(T + 4 * DAY)
        yield* Effect.flatMap(Rfm, (r) => r.recompute())
        expect(yield* rfmRow(merged.id)).toEqual(mergedRfm)
        expect(yield* rfmRow(survivor.id)).toMatchObject({ monetary: "7000000", as_of_day: expect.any(String) })

        // the fraud run: the merged profile's own deposits (still on its ledger) decide nothing
        const decisionsBefore = yield* countOf("c360_fraud_decisions", merged.id)
        yield* Effect.flatMap(Fraud, (f) => f.run())
        expect(yield* countOf("c360_fraud_decisions", merged.id)).toBe(decisionsBefore)
      }).pipe(Effect.orDie))

    it.effect("two profiles merged at once: the survivor's figures and ticket statistics are the sums of all three, each profile's rows move, of two equal active flags only the first moves; the dry run predicts it", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const purchases = yield* Purchases
        const tickets = yield* Tickets
        const wallets = yield* Wallets
        const fraud = yield* Fraud
        const T = Date.UTC(2047, 0, 10, 3, 30)
        yield* setTime(T - 5 * DAY)
        const [s, a, b] = yield* Effect.forEach([0, 1, 2], (i) => customers.create({ phone: freshPhone(), name: `P${i}` }))
        for (const [i, c] of [s!, a!, b!].entries()) {
          yield* purchases.record({ phone: c.phone!, amount: (i + 1) * 1_000_000, reference: freshRef("multi") })
          const t = yield* tickets.create({ phone: c.phone!, type: "KHAC" } as never)
          for (const to of ["processing", "waiting_carrier", "completed"]) yield* tickets.act(t.ticket.code, { action: "transition", to })
        }
        // both merged profiles flagged `suspicious`, in windows of their own (no decision collides)
        for (const [k, c] of [a!, b!].entries()) {
          for (const m of [0, 5, 10, 15, 20, 25]) {
            yield* setTime(T + k * 2 * HOUR + m * MINUTE)
            yield* wallets.deposit({ phone: c.phone!, amount: BIG, source: "manual", reference: freshRef("dep") })
          }
        }
        yield* setTime(T + 5 * HOUR)
        yield* fraud.run()
        const preview = yield* customers.merge({ survivorId: s!.id, mergedIds: [a!.id, b!.id] })
        const result = yield* customers.merge({ survivorId: s!.id, mergedIds: [a!.id, b!.id], dryRun: false })
        expect(comparable(result)).toEqual(comparable(preview))
        expect(result.moved.map((m) => m.parts.fraud)).toEqual([
          { decisions: { moved: 1, stayed: 0 }, flags: { moved: 1, stayed: 0 } },
          { decisions: { moved: 1, stayed: 0 }, flags: { moved: 0, stayed: 1 } }
        ])
        expect(result.moved.map((m) => m.parts.purchases)).toEqual([
          { purchases: 1, returns: 0, totalOrders: 1, totalSpent: 2_000_000, points: 200 },
          { purchases: 1, returns: 0, totalOrders: 1, totalSpent: 3_000_000, points: 300 }
        ])
        expect(yield* figures(s!.id)).toMatchObject({ totalOrders: 3, totalSpent: 6_000_000, points: 600, level: "gold" })
        for (const m of [a!, b!]) expect(yield* figures(m.id)).toMatchObject({ totalOrders: 0, totalSpent: 0, points: 0 })
        expect(yield* tickets.stats(s!.phone!)).toMatchObject({ completed: 3, khac: 3 })
        for (const m of [a!, b!]) {
          expect(yield* countOf("c360_purchases", m.id)).toBe(0)
          expect(yield* countOf("c360_tickets", m.id)).toBe(0)
        }
        expect(yield* countOf("c360_fraud_flags", s!.id)).toBe(1)
        expect(yield* countOf("c360_fraud_flags", b!.id)).toBe(1)
      }).pipe(Effect.orDie))
  })
