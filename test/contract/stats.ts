/**
 * The statistics contract (DOMAIN §7), run against SQLite, SQLite with deferred writes, PostgreSQL
 * and D1 (stats.*.test.ts): every figure of the overview — on a database that starts empty, so
 * each is checked exactly, with new-this-month on both sides of a Hanoi month edge — the overview's
 * deltas under purchases, returns, deletions and blocks, the order of its two lists (ties
 * included), one customer's figures with returns, top products, monthly spending at a Hanoi month
 * edge, validation and unknown customers, and a property: random purchases and returns of a
 * customer give the figures an in-memory model computes.
 *
 * The suite's database is shared by its tests, which run in order: the first test runs on the
 * empty database; the others create their own customers (fresh phones) at instants of their own
 * years and assert on them, or on the overview's before/after deltas.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as fc from "effect/FastCheck"
import { Customers } from "../../src/customers/Customers.js"
import { Purchases } from "../../src/purchases/Purchases.js"
import { floorRatio, type Overview } from "../../src/stats/Figures.js"
import { Stats } from "../../src/stats/Stats.js"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { freshPhone, servicesOver } from "./customers.js"

const SECOND = 1_000
const MINUTE = 60 * SECOND

let references = 0
const ref = (what: string) => `stats-${what}-${Date.now().toString(36)}-${references++}`

interface Line {
  readonly productId: string
  readonly name: string
  readonly quantity: number
  readonly unitPrice: number
}

/** Records a purchase of the phone's customer at the clock's now (or `at`, in the past); returns its reference. */
const buy = (phone: string, amount: number, options: { readonly at?: number; readonly items?: ReadonlyArray<Line> } = {}) =>
  Effect.gen(function*() {
    const reference = ref("p")
    yield* (yield* Purchases).record({
      phone,
      amount,
      reference,
      ...(options.at === undefined ? {} : { at: new Date(options.at) }),
      ...(options.items === undefined ? {} : { items: options.items })
    })
    return reference
  })

const giveBack = (purchaseReference: string, amount?: number) =>
  Effect.flatMap(Purchases, (p) =>
    p.recordReturn({ purchaseReference, reference: ref("r"), ...(amount === undefined ? {} : { amount }) }))

/** Creates a customer at the clock's now. */
const customer = (phone: string, fields: Record<string, unknown> = {}) =>
  Effect.flatMap(Customers, (c) => c.create({ phone, name: `Khách ${phone.slice(-4)}`, ...fields } as never))

const at = (millis: number) => TestClock.setTime(millis)

/** The counts and sums of the overview (everything but its lists, `asOf` and `month`). */
const figures = (o: Overview) => ({
  customers: o.customers,
  active: o.active,
  vip: o.vip,
  members: o.members,
  newThisMonth: o.newThisMonth,
  buyers: o.buyers,
  orders: o.orders,
  revenue: o.revenue,
  ...o.byLevel
})
const delta = (before: Overview, after: Overview) => {
  const a = figures(after) as Record<string, number>
  const b = figures(before) as Record<string, number>
  return Object.fromEntries(Object.keys(a).map((k) => [k, a[k]! - b[k]!]).filter(([, v]) => v !== 0))
}

export const statsContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  options: { readonly propertyRuns?: number; readonly propertyPurchases?: number } = {}
) =>
  layer(servicesOver(storage), { timeout: "120 seconds" })(name, (it) => {
    it.effect("the suite's first test, on an empty database: every figure 0 (averages too), byLevel all four levels at 0, empty lists; then each figure of a known population exactly — deleted customers left out, blocked ones counted but not active, new this month by the Hanoi month (23:30 UTC on 31 January is February there)", () =>
      Effect.gen(function*() {
        const stats = yield* Stats
        const customers = yield* Customers
        const T = Date.UTC(2031, 1, 10, 3) // 10:00 on 10 February 2031 in Hanoi
        yield* at(T)
        const empty = yield* stats.overview()
        expect(empty).toMatchObject({
          month: "2031-02",
          customers: 0,
          active: 0,
          vip: 0,
          members: 0,
          newThisMonth: 0,
          buyers: 0,
          orders: 0,
          revenue: 0,
          averageLifetimeValue: 0,
          averagePurchases: 0,
          byLevel: { bronze: 0, silver: 0, gold: 0, platinum: 0 },
          topCustomers: [],
          recentCustomers: []
        })
        expect(empty.asOf.getTime()).toBe(T)

        const [a, p, q, b, c, d, e] = Array.from({ length: 7 }, freshPhone) as [string, string, string, string, string, string, string]
        yield* at(Date.UTC(2031, 0, 15, 3))
        const A = yield* customer(a)
        yield* at(Date.UTC(2031, 0, 20, 3))
        yield* buy(a, 1_000_001)
        yield* at(Date.UTC(2031, 0, 31, 16, 59, 59, 999)) // 23:59:59.999 on 31 January in Hanoi
        const P = yield* customer(p)
        yield* at(Date.UTC(2031, 0, 31, 23, 30)) // 06:30 on 1 February in Hanoi
        const Q = yield* customer(q)
        yield* at(Date.UTC(2031, 1, 5, 3))
        const B = yield* customer(b, { type: "vip" })
        yield* buy(b, 5_333_333)
        yield* at(Date.UTC(2031, 1, 6, 3))
        const C = yield* customer(c, { type: "member" })
        yield* at(Date.UTC(2031, 1, 7, 3))
        const D = yield* customer(d, { type: "member" })
        yield* buy(d, 100_002)
        yield* customers.update(D.id, { status: "blocked" })
        yield* at(Date.UTC(2031, 1, 8, 3))
        const E = yield* customer(e, { type: "vip" })
        yield* buy(e, 50_000)
        yield* customers.delete(E.id)
        yield* at(Date.UTC(2031, 1, 9, 3))
        const second = yield* buy(a, 2_000_000)
        yield* giveBack(second, 500_000)

        yield* at(T)
        const o = yield* stats.overview()
        expect(figures(o)).toEqual({
          customers: 6, // A, P, Q, B, C, D: E is deleted
          active: 5, // D is blocked
          vip: 1,
          members: 2,
          newThisMonth: 4, // Q, B, C, D
          buyers: 3, // A, B, D
          orders: 4,
          revenue: 7_933_336, // 2,500,001 + 5,333,333 + 100,002
          bronze: 4,
          silver: 1,
          gold: 1,
          platinum: 0
        })
        expect(o.averageLifetimeValue).toBe(2_644_445) // floor(7,933,336 ÷ 3)
        expect(o.averagePurchases).toBe(1.33) // 4 ÷ 3
        expect(o.month).toBe("2031-02")
        expect(o.topCustomers.map((s) => [s.id, s.totalSpent, s.totalOrders, s.membershipLevel])).toEqual([
          [B.id, 5_333_333, 1, "gold"],
          [A.id, 2_500_001, 2, "silver"],
          [D.id, 100_002, 1, "bronze"]
        ])
        expect(o.topCustomers[1]).toMatchObject({ phone: a, type: "walk-in", status: "active", createdAt: A.createdAt })
        expect(o.topCustomers[1]!.lastPurchaseAt?.getTime()).toBe(Date.UTC(2031, 1, 9, 3))
        expect(o.recentCustomers.map((s) => s.id)).toEqual([D.id, C.id, B.id, Q.id, P.id, A.id])
        expect(o.recentCustomers[0]).toMatchObject({ status: "blocked", type: "member" })
        // the same figures with shorter lists
        const short = yield* stats.overview({ top: 1, recent: 2 })
        expect(figures(short)).toEqual(figures(o))
        expect(short.topCustomers.map((s) => s.id)).toEqual([B.id])
        expect(short.recentCustomers.map((s) => s.id)).toEqual([D.id, C.id])

        // the month is Hanoi's: just before midnight on 31 January there it is still January
        yield* at(Date.UTC(2031, 0, 31, 16, 59, 59, 999))
        expect(yield* stats.overview()).toMatchObject({ month: "2031-01", newThisMonth: 2 }) // A, P
        yield* at(Date.UTC(2031, 0, 31, 17, 0))
        expect(yield* stats.overview()).toMatchObject({ month: "2031-02", newThisMonth: 4 })
        yield* at(Date.UTC(2031, 1, 28, 16, 59, 59, 999))
        expect(yield* stats.overview()).toMatchObject({ month: "2031-02", newThisMonth: 4 })
        yield* at(Date.UTC(2031, 1, 28, 17, 0)) // midnight on 1 March in Hanoi
        expect(yield* stats.overview()).toMatchObject({ month: "2031-03", newThisMonth: 0, customers: 6 })
      }))

    it.effect("a purchase, a return, a block, a type change, a deletion and a restore move exactly the figures they concern", () =>
      Effect.gen(function*() {
        const stats = yield* Stats
        const customers = yield* Customers
        yield* at(Date.UTC(2032, 4, 15, 3))
        const phone = freshPhone()
        const start = yield* stats.overview()
        const x = yield* customer(phone)
        const created = yield* stats.overview()
        expect(delta(start, created)).toEqual({ customers: 1, active: 1, newThisMonth: 1, bronze: 1 })
        yield* at(Date.UTC(2032, 4, 15, 4))
        const reference = yield* buy(phone, 2_400_000)
        const bought = yield* stats.overview()
        expect(delta(created, bought)).toEqual({ buyers: 1, orders: 1, revenue: 2_400_000, bronze: -1, silver: 1 })
        yield* giveBack(reference, 400_001)
        const returned = yield* stats.overview()
        expect(delta(bought, returned)).toEqual({ revenue: -400_001, silver: -1, bronze: 1 })
        yield* customers.update(x.id, { type: "vip", status: "blocked" })
        const blocked = yield* stats.overview()
        expect(delta(returned, blocked)).toEqual({ active: -1, vip: 1 })
        yield* customers.delete(x.id)
        const deleted = yield* stats.overview()
        expect(delta(blocked, deleted)).toEqual({
          customers: -1,
          vip: -1,
          newThisMonth: -1,
          buyers: -1,
          orders: -1,
          revenue: -1_999_999,
          bronze: -1
        })
        expect(deleted.topCustomers.some((s) => s.id === x.id)).toBe(false)
        expect(deleted.recentCustomers.some((s) => s.id === x.id)).toBe(false)
        yield* customers.update(x.id, { status: "active" })
        expect(delta(blocked, yield* stats.overview())).toEqual({ active: 1 })
        // every overview's averages are the documented ratios of its own sums
        for (const o of [created, bought, returned, blocked, deleted]) {
          expect(o.averageLifetimeValue).toBe(floorRatio(o.revenue, o.buyers))
          expect(o.averagePurchases).toBe(Math.round((o.orders * 100) / o.buyers) / 100)
        }
      }))

    it.effect("top customers: the highest total spent first, equal totals by the smaller id, nothing spent left out; recent customers: newest first, equal instants by the larger id, deleted ones left out", () =>
      Effect.gen(function*() {
        const stats = yield* Stats
        const customers = yield* Customers
        const t0 = Date.UTC(2090, 5, 1, 3)
        yield* at(t0)
        const [x1, x2, x3] = [freshPhone(), freshPhone(), freshPhone()]
        const X1 = yield* customer(x1)
        yield* buy(x1, 7_000_000_000_000)
        yield* at(t0 + SECOND)
        const X2 = yield* customer(x2)
        yield* buy(x2, 6_000_000_000_000)
        yield* at(t0 + 2 * SECOND)
        const X3 = yield* customer(x3)
        yield* buy(x3, 5_999_999_999_999)
        yield* buy(x3, 1) // X3 ties with X2
        const [low, high] = [X2.id, X3.id].sort()
        const top = yield* stats.overview({ top: 3 })
        expect(top.topCustomers.map((s) => s.id)).toEqual([X1.id, low, high])
        expect(top.topCustomers.map((s) => s.totalSpent)).toEqual([7_000_000_000_000, 6_000_000_000_000, 6_000_000_000_000])
        expect((yield* stats.overview({ top: 1 })).topCustomers.map((s) => s.id)).toEqual([X1.id])
        expect((yield* stats.overview()).topCustomers).toHaveLength(Math.min(10, top.buyers))
        // a customer whose purchases were all returned has spent nothing: not on the list
        yield* at(t0 + 3 * SECOND)
        const zero = freshPhone()
        const Z = yield* customer(zero)
        yield* giveBack(yield* buy(zero, 8_000_000_000_000))
        expect((yield* stats.overview({ top: 100 })).topCustomers.some((s) => s.id === Z.id)).toBe(false)

        yield* at(t0 + 10 * SECOND)
        const R1 = yield* customer(freshPhone())
        yield* at(t0 + 11 * SECOND)
        const R2 = yield* customer(freshPhone())
        yield* at(t0 + 12 * SECOND)
        const R3 = yield* customer(freshPhone())
        const R4 = yield* customer(freshPhone())
        yield* at(t0 + 13 * SECOND)
        const R5 = yield* customer(freshPhone())
        yield* customers.delete(R5.id)
        const [later, earlier] = [R3.id, R4.id].sort().reverse()
        const recent = yield* stats.overview({ recent: 5 })
        expect(recent.recentCustomers.map((s) => s.id)).toEqual([later, earlier, R2.id, R1.id, Z.id])
        expect((yield* stats.overview()).recentCustomers).toHaveLength(10)
      }))

    it.effect("one customer's figures: orders, purchased, returned, net total, average order value (floor), first and last purchase — with partial and full returns, in agreement with the customer's stored totals; no purchases: zeros and nulls", () =>
      Effect.gen(function*() {
        const stats = yield* Stats
        const customers = yield* Customers
        const phone = freshPhone()
        yield* at(Date.UTC(2033, 2, 1, 3))
        yield* customer(phone)
        const none = yield* stats.customer(phone)
        expect(none).toMatchObject({
          phone,
          orders: 0,
          purchased: 0,
          returned: 0,
          totalSpent: 0,
          averageOrderValue: 0,
          firstPurchaseAt: null,
          lastPurchaseAt: null,
          topProducts: [],
          monthly: []
        })
        yield* buy(phone, 100_000)
        yield* at(Date.UTC(2033, 2, 2, 3))
        const second = yield* buy(phone, 250_001)
        yield* at(Date.UTC(2033, 2, 5, 3))
        const third = yield* buy(phone, 50_000)
        yield* at(Date.UTC(2033, 2, 6, 3))
        yield* giveBack(second, 30_000)
        yield* giveBack(third) // all of it
        // a purchase recorded late, dated before the others: the first purchase moves, the last does not
        yield* buy(phone, 1_000, { at: Date.UTC(2033, 1, 27, 3) })
        const s = yield* stats.customer(` +84 ${phone.slice(1)} `)
        expect(s).toMatchObject({
          phone,
          orders: 4,
          purchased: 401_001,
          returned: 80_000,
          totalSpent: 321_001,
          averageOrderValue: 80_250 // floor(321,001 ÷ 4)
        })
        expect(s.firstPurchaseAt?.getTime()).toBe(Date.UTC(2033, 1, 27, 3))
        expect(s.lastPurchaseAt?.getTime()).toBe(Date.UTC(2033, 2, 5, 3))
        const stored = yield* customers.getByPhone(phone)
        expect(s.customerId).toBe(stored.id)
        expect([s.orders, s.totalSpent, s.lastPurchaseAt?.getTime()]).toEqual([
          stored.totalOrders,
          stored.totalSpent,
          stored.lastPurchaseAt?.getTime()
        ])
        // a deleted customer's figures stay
        yield* customers.delete(stored.id)
        expect(yield* stats.customer(phone)).toEqual(s)
      }))

    it.effect("top products: by quantity, then revenue (Σ quantity × unit price), then product id; the name of the latest line; orders counts purchases; 5 by default, `products` otherwise", () =>
      Effect.gen(function*() {
        const stats = yield* Stats
        const phone = freshPhone()
        const line = (productId: string, quantity: number, unitPrice: number, name = `Sản phẩm ${productId}`): Line => ({
          productId,
          name,
          quantity,
          unitPrice
        })
        yield* at(Date.UTC(2034, 3, 1, 3))
        yield* buy(phone, 100_000, { items: [line("P1", 2, 10_000, "Áo thun"), line("P3", 5, 1_000), line("P6", 1, 500)] })
        yield* at(Date.UTC(2034, 3, 2, 3))
        yield* buy(phone, 50_000, { items: [line("P1", 1, 12_000, "Áo thun cổ tròn"), line("P2", 2, 5_000), line("P2", 1, 5_000)] })
        yield* at(Date.UTC(2034, 3, 3, 3))
        yield* buy(phone, 5_000, { items: [line("P5", 1, 1_000), line("P4", 1, 1_000)] })
        yield* buy(phone, 7_000) // no lines
        // another customer's lines never count
        yield* buy(freshPhone(), 9_000_000, { items: [line("P6", 100, 90_000)] })
        const s = yield* stats.customer(phone)
        expect(s.topProducts.map((p) => ({ ...p }))).toEqual([
          { productId: "P3", name: "Sản phẩm P3", quantity: 5, revenue: 5_000, orders: 1 },
          { productId: "P1", name: "Áo thun cổ tròn", quantity: 3, revenue: 32_000, orders: 2 },
          { productId: "P2", name: "Sản phẩm P2", quantity: 3, revenue: 15_000, orders: 1 },
          { productId: "P4", name: "Sản phẩm P4", quantity: 1, revenue: 1_000, orders: 1 },
          { productId: "P5", name: "Sản phẩm P5", quantity: 1, revenue: 1_000, orders: 1 }
        ])
        expect((yield* stats.customer(phone, { products: 2 })).topProducts.map((p) => p.productId)).toEqual(["P3", "P1"])
        expect((yield* stats.customer(phone, { products: 100 })).topProducts.map((p) => p.productId)).toEqual([
          "P3",
          "P1",
          "P2",
          "P4",
          "P5",
          "P6"
        ])
        // a return takes nothing off the lines: they are as purchased
        expect(s.orders).toBe(4)
      }))

    it.effect("monthly spending: business-zone months from the purchase's business day (23:59 on 31 March in Hanoi is March, 00:00 is April, 23:30 UTC on 31 March is April), newest first; a return counts in its purchase's month; the 12 latest months with purchases by default, `months` otherwise; the months add up to the totals", () =>
      Effect.gen(function*() {
        const stats = yield* Stats
        const phone = freshPhone()
        yield* at(Date.UTC(2037, 0, 1))
        yield* customer(phone)
        // fourteen months with purchases: January 2035 … February 2036, one purchase each
        for (let i = 0; i < 14; i++) {
          yield* buy(phone, 10_000 + i, { at: Date.UTC(2035, i, 10, 3) })
        }
        const march = yield* buy(phone, 300_000, { at: Date.UTC(2036, 2, 31, 16, 59, 59, 999) })
        yield* buy(phone, 400_000, { at: Date.UTC(2036, 2, 31, 17, 0) })
        yield* buy(phone, 450_000, { at: Date.UTC(2036, 2, 31, 23, 30) })
        yield* giveBack(march, 120_000) // returned in 2037, counted in March 2036
        const s = yield* stats.customer(phone)
        expect(s.monthly).toHaveLength(12)
        expect(s.monthly.slice(0, 3).map((m) => ({ ...m }))).toEqual([
          { month: "2036-04", orders: 2, spent: 850_000, returned: 0, net: 850_000 },
          { month: "2036-03", orders: 1, spent: 300_000, returned: 120_000, net: 180_000 },
          { month: "2036-02", orders: 1, spent: 10_013, returned: 0, net: 10_013 }
        ])
        expect(s.monthly.map((m) => m.month)).toEqual([
          "2036-04",
          "2036-03",
          "2036-02",
          "2036-01",
          "2035-12",
          "2035-11",
          "2035-10",
          "2035-09",
          "2035-08",
          "2035-07",
          "2035-06",
          "2035-05"
        ])
        expect((yield* stats.customer(phone, { months: 1 })).monthly.map((m) => m.month)).toEqual(["2036-04"])
        const all = (yield* stats.customer(phone, { months: 100 })).monthly
        expect(all).toHaveLength(16)
        expect(all.at(-1)).toMatchObject({ month: "2035-01", orders: 1, spent: 10_000 })
        expect(all.reduce((n, m) => n + m.orders, 0)).toBe(s.orders)
        expect(all.reduce((n, m) => n + m.net, 0)).toBe(s.totalSpent)
        expect(all.reduce((n, m) => n + m.returned, 0)).toBe(s.returned)
      }))

    it.effect("an unknown phone fails CustomerNotFound, a bad one InvalidPhone, anything but a string or bad options ValidationError; nothing else is read", () =>
      Effect.gen(function*() {
        const stats = yield* Stats
        yield* at(Date.UTC(2038, 0, 1))
        expect(yield* Effect.flip(stats.customer(freshPhone()))).toMatchObject({ _tag: "CustomerNotFound", by: "phone" })
        expect((yield* Effect.flip(stats.customer("0111 234 567")))._tag).toBe("InvalidPhone")
        expect((yield* Effect.flip(stats.customer("12345")))._tag).toBe("InvalidPhone")
        for (const bad of [42, null, undefined, {}, ["0912345678"]]) {
          expect((yield* Effect.flip(stats.customer(bad as never)))._tag).toBe("ValidationError")
        }
        const phone = freshPhone()
        yield* customer(phone)
        for (const bad of [{ products: 0 }, { months: 101 }, { products: 1.5 }, { months: "3" }, { bogus: 1 }, 7, "x"]) {
          expect((yield* Effect.flip(stats.customer(phone, bad as never)))._tag).toBe("ValidationError")
        }
        for (const bad of [{ top: 0 }, { recent: 101 }, { top: 2.5 }, { top: "5" }, { limit: 5 }, 3, []]) {
          expect((yield* Effect.flip(stats.overview(bad as never)))._tag).toBe("ValidationError")
        }
        expect((yield* stats.overview({ top: 100, recent: 100 })).recentCustomers.length).toBeLessThanOrEqual(100)
      }))

    it.effect.prop(
      "random purchases (amounts, Hanoi times, lines) and returns of one customer give the figures a model computes from the same records",
      [
        fc.array(
          fc.record({
            amount: fc.integer({ min: 1, max: 50_000_000 }),
            // minutes into 2039 (UTC), up to ~3 months: month edges in Hanoi included
            minute: fc.integer({ min: 0, max: 130_000 }),
            lines: fc.array(
              fc.record({
                product: fc.constantFrom("A", "B", "C", "D", "E", "F", "G"),
                quantity: fc.integer({ min: 1, max: 20 }),
                unitPrice: fc.integer({ min: 0, max: 2_000_000 })
              }),
              { maxLength: 4 }
            ),
            // the part returned, in per mille of the amount (0: none)
            returned: fc.constantFrom(0, 0, 250, 1000)
          }),
          { minLength: 0, maxLength: options.propertyPurchases ?? 8 }
        ),
        fc.integer({ min: 1, max: 6 })
      ],
      ([purchases, products]) =>
        Effect.gen(function*() {
          const stats = yield* Stats
          const phone = freshPhone()
          const base = Date.UTC(2039, 0, 1)
          yield* at(base + 200_000 * MINUTE)
          yield* customer(phone)
          const months = new Map<string, { orders: number; spent: number; returned: number }>()
          const lines = new Map<string, { quantity: number; revenue: number; orders: Set<number> }>()
          let returnedTotal = 0
          for (const [i, p] of purchases.entries()) {
            const when = base + p.minute * MINUTE
            const reference = yield* buy(phone, p.amount, {
              at: when,
              items: p.lines.map((l) => ({ productId: l.product, name: l.product, quantity: l.quantity, unitPrice: l.unitPrice }))
            })
            const back = Math.floor((p.amount * p.returned) / 1000)
            if (back > 0) yield* giveBack(reference, back)
            returnedTotal += back
            const month = new Date(when + 7 * 3_600_000).toISOString().slice(0, 7) // Hanoi is UTC+7
            const m = months.get(month) ?? { orders: 0, spent: 0, returned: 0 }
            months.set(month, { orders: m.orders + 1, spent: m.spent + p.amount, returned: m.returned + back })
            for (const l of p.lines) {
              const x = lines.get(l.product) ?? { quantity: 0, revenue: 0, orders: new Set<number>() }
              x.quantity += l.quantity
              x.revenue += l.quantity * l.unitPrice
              x.orders.add(i)
              lines.set(l.product, x)
            }
          }
          const s = yield* stats.customer(phone, { products, months: 100 })
          const purchased = purchases.reduce((n, p) => n + p.amount, 0)
          const times = purchases.map((p) => base + p.minute * MINUTE)
          expect({
            orders: s.orders,
            purchased: s.purchased,
            returned: s.returned,
            totalSpent: s.totalSpent,
            averageOrderValue: s.averageOrderValue,
            first: s.firstPurchaseAt?.getTime() ?? null,
            last: s.lastPurchaseAt?.getTime() ?? null
          }).toEqual({
            orders: purchases.length,
            purchased,
            returned: returnedTotal,
            totalSpent: purchased - returnedTotal,
            averageOrderValue: purchases.length === 0 ? 0 : Math.floor((purchased - returnedTotal) / purchases.length),
            first: times.length === 0 ? null : Math.min(...times),
            last: times.length === 0 ? null : Math.max(...times)
          })
          expect(s.monthly.map((m) => ({ ...m }))).toEqual(
            [...months.entries()].sort(([a], [b]) => (a < b ? 1 : -1)).map(([month, m]) => ({
              month,
              ...m,
              net: m.spent - m.returned
            }))
          )
          expect(s.topProducts.map((p) => [p.productId, p.quantity, p.revenue, p.orders])).toEqual(
            [...lines.entries()]
              .sort(([a, x], [b, y]) => y.quantity - x.quantity || y.revenue - x.revenue || (a < b ? -1 : 1))
              .slice(0, products)
              .map(([id, x]) => [id, x.quantity, x.revenue, x.orders.size])
          )
          expect(s.monthly.every((m) => m.month >= "2039-01" && m.month <= "2039-04")).toBe(true)
        }),
      { fastCheck: { numRuns: options.propertyRuns ?? 15 } }
    )
  })
