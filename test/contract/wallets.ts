/**
 * The wallet contract (DOMAIN §3), run against SQLite (wallets.sqlite.test.ts) and PostgreSQL
 * (wallets.pg.test.ts): behaviours, and a model-based test in which random sequences of deposits,
 * withdrawals, credit issues, clock moves, expiry runs and replayed references run against the real
 * adapters and an in-memory reference model, which must agree after every step, with the ledger
 * audit clean after every sequence.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import type * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import type { StoragePorts } from "../../src/storage/Storage.js"
import type { StoredEvent } from "../../src/kernel/Events.js"
import { Outbox } from "../../src/platform/Outbox.js"
import { Customers } from "../../src/customers/Customers.js"
import { Wallets, type WalletsShape } from "../../src/wallets/Wallets.js"
import { Notes } from "../../src/notes/Notes.js"
import { Timeline } from "../../src/timeline/Timeline.js"
import { auditLedger } from "../support/audit.js"
import { freshPhone, servicesOver } from "./customers.js"

const DAY = 86_400_000

const newCustomer = Effect.gen(function*() {
  const customers = yield* Customers
  const phone = freshPhone()
  yield* customers.create({ phone, name: "Wallet owner" })
  return phone
})

let refCounter = 0
const ref = (label: string) => `${label}-${Date.now().toString(36)}-${refCounter++}`

const walletEvents = (mark: string) =>
  Effect.flatMap(Outbox, (o) => o.read(mark, 10_000)).pipe(
    Effect.map((events) => events.filter((e: StoredEvent) => e.channel === "wallets"))
  )

export const walletContract = <E>(name: string, storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>) =>
  layer(servicesOver(storage), { timeout: "120 seconds" })(name, (it) => {
    it.effect("deposit adds to the real balance; the same reference and payload returns the first result and writes nothing", () =>
      Effect.gen(function*() {
        const wallets = yield* Wallets
        const phone = yield* newCustomer
        const reference = ref("bank")
        const mark = yield* Effect.flatMap(Outbox, (o) => o.end)
        const first = yield* wallets.deposit({ phone: `+84 ${phone.slice(1)}`, amount: 150_000, reference, source: "bank_transfer" })
        expect(first.wallet).toMatchObject({ balance: 150_000, virtualBalance: 0, available: 150_000 })
        yield* wallets.deposit({ phone, amount: 1_000, reference: ref("cash"), source: "manual", note: "till" })
        const again = yield* wallets.deposit({ phone, amount: 150_000, reference, source: "bank_transfer" })
        expect(again).toEqual(first)
        expect((yield* wallets.get(phone)).balance).toBe(151_000)
        const conflict = yield* Effect.flip(wallets.deposit({ phone, amount: 150_001, reference, source: "bank_transfer" }))
        expect(conflict).toMatchObject({ _tag: "IdempotencyConflict", reference })
        const otherKind = yield* Effect.flip(wallets.withdraw({ phone, amount: 150_000, reference }))
        expect(otherKind._tag).toBe("IdempotencyConflict")
        const events = yield* walletEvents(mark)
        expect(events.map((e) => [e.type, (e.data as { amount: number }).amount])).toEqual([
          ["wallet.deposit", 150_000],
          ["wallet.deposit", 1_000]
        ])
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("a wallet write is recorded by its ledger entries, which the customer's timeline shows; the activity log does not copy it", () =>
      Effect.gen(function*() {
        const wallets = yield* Wallets
        const notes = yield* Notes
        const timeline = yield* Timeline
        yield* TestClock.setTime(Date.UTC(2026, 2, 1))
        const phone = yield* newCustomer
        const reference = ref("act")
        yield* wallets.deposit({ phone, amount: 10_000, reference, source: "manual" })
        yield* TestClock.adjust(1_000)
        yield* wallets.withdraw({ phone, amount: 1_000, reference: ref("act-w") })
        const page = yield* timeline.timeline(phone, { kinds: ["ledger"] })
        expect(page.items.map((e) => (e.data as { kind: string }).kind)).toEqual(["withdrawal", "deposit"])
        expect((yield* notes.activities(phone)).items.map((a) => a.kind)).toEqual(["customer.created"])
      }))

    it.effect("withdraw spends spendable credits first, earliest expiry first, then real money; all or nothing", () =>
      Effect.gen(function*() {
        const wallets = yield* Wallets
        yield* TestClock.setTime(Date.UTC(2026, 0, 1))
        const phone = yield* newCustomer
        yield* wallets.deposit({ phone, amount: 100_000, reference: ref("d"), source: "manual" })
        const late = yield* wallets.issueVirtualCredit({ phone, amount: 20_000, reason: "late", reference: ref("c"), expiresInDays: 30 })
        const soon = yield* wallets.issueVirtualCredit({ phone, amount: 10_000, reason: "soon", reference: ref("c"), expiresInDays: 2 })
        const gone = yield* wallets.issueVirtualCredit({ phone, amount: 50_000, reason: "gone", reference: ref("c"), expiresInDays: 1 })
        yield* TestClock.adjust(DAY) // "gone" reaches its expiresAt: no longer spendable, even before the job
        const view = yield* wallets.get(phone)
        expect(view).toMatchObject({ balance: 100_000, virtualBalance: 30_000, available: 130_000 })
        expect(view.credits.map((c) => [c.id, c.status])).toEqual([
          [gone.credit.id, "expired"],
          [soon.credit.id, "active"],
          [late.credit.id, "active"]
        ])
        const short = yield* Effect.flip(wallets.withdraw({ phone, amount: 130_001, reference: ref("w") }))
        expect(short).toMatchObject({ _tag: "InsufficientFunds", available: 130_000, requested: 130_001 })
        expect(yield* wallets.get(phone)).toEqual(view)
        const w = yield* wallets.withdraw({ phone, amount: 25_000, reference: ref("w"), note: "order 1" })
        expect(w.fromCredits).toEqual([
          { creditId: soon.credit.id, amount: 10_000 },
          { creditId: late.credit.id, amount: 15_000 }
        ])
        expect(w.fromReal).toBe(0)
        const w2 = yield* wallets.withdraw({ phone, amount: 10_000, reference: ref("w") })
        expect(w2.fromCredits).toEqual([{ creditId: late.credit.id, amount: 5_000 }])
        expect(w2.fromReal).toBe(5_000)
        expect(w2.wallet).toMatchObject({ balance: 95_000, virtualBalance: 0, available: 95_000 })
        const page = yield* wallets.transactions(phone, { limit: 3 })
        expect(page.items.map((e) => [e.kind, e.amount, e.balanceAfter, e.creditRemainingAfter])).toEqual([
          ["withdrawal", -5_000, 95_000, null],
          ["credit_spent", -5_000, 100_000, 0],
          ["credit_spent", -15_000, 100_000, 5_000]
        ])
        const rest = yield* wallets.transactions(phone, { limit: 50, cursor: page.nextCursor })
        expect(rest.items.map((e) => e.kind)).toEqual(["credit_spent", "credit_issued", "credit_issued", "credit_issued", "deposit"])
        expect(rest.nextCursor).toBeNull()
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("expireCredits removes each due remainder once, as one entry and one event per credit", () =>
      Effect.gen(function*() {
        const wallets = yield* Wallets
        yield* TestClock.setTime(Date.UTC(2027, 0, 1))
        yield* wallets.expireCredits()
        const phone = yield* newCustomer
        const a = yield* wallets.issueVirtualCredit({ phone, amount: 7_000, reason: "a", reference: ref("c"), expiresInDays: 1 })
        yield* wallets.issueVirtualCredit({ phone, amount: 9_000, reason: "b", reference: ref("c") })
        yield* wallets.withdraw({ phone, amount: 2_000, reference: ref("w") })
        yield* TestClock.adjust(DAY)
        const mark = yield* Effect.flatMap(Outbox, (o) => o.end)
        expect(yield* wallets.expireCredits({ batchSize: 1 })).toEqual({ expired: 1, amount: 5_000 })
        expect(yield* wallets.expireCredits()).toEqual({ expired: 0, amount: 0 })
        const view = yield* wallets.get(phone)
        expect(view).toMatchObject({ balance: 0, virtualBalance: 9_000 })
        expect(view.credits.map((c) => c.id)).not.toContain(a.credit.id)
        const events = yield* walletEvents(mark)
        expect(events.map((e) => [e.type, e.data])).toEqual([
          ["wallet.credit_expired", { creditId: a.credit.id, amount: 5_000, expiresAt: a.credit.expiresAt.toISOString() }]
        ])
        yield* TestClock.adjust(15 * DAY)
        expect(yield* wallets.expireCredits({ batchSize: 1 })).toEqual({ expired: 1, amount: 9_000 })
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("a phone that moves to another customer takes later writes to the new holder's wallet", () =>
      Effect.gen(function*() {
        const wallets = yield* Wallets
        const customers = yield* Customers
        const phone = yield* newCustomer
        const a = Option.getOrThrow(yield* customers.findByPhone(phone))
        yield* wallets.deposit({ phone, amount: 10_000, reference: ref("a1"), source: "manual" })
        yield* wallets.withdraw({ phone, amount: 1_000, reference: ref("a2") })
        const newPhoneOfA = freshPhone()
        yield* customers.update(a.id, { phone: newPhoneOfA })
        const b = yield* customers.create({ phone, name: "Next holder of the number" })
        const deposit = yield* wallets.deposit({ phone, amount: 7_000, reference: ref("b1"), source: "manual" })
        expect(deposit.wallet).toMatchObject({ customerId: b.id, balance: 7_000 })
        const withdrawal = yield* wallets.withdraw({ phone, amount: 2_000, reference: ref("b2") })
        expect(withdrawal.wallet).toMatchObject({ customerId: b.id, balance: 5_000 })
        expect(yield* wallets.get(newPhoneOfA)).toMatchObject({ customerId: a.id, balance: 9_000 })
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("bad input writes nothing: InvalidAmount, InvalidPhone, ValidationError, CustomerNotFound", () =>
      Effect.gen(function*() {
        const wallets = yield* Wallets
        const phone = yield* newCustomer
        for (const amount of [0, -5, 1.5, Number.NaN, Infinity, 2 ** 53, "100" as unknown as number]) {
          const e = yield* Effect.flip(wallets.deposit({ phone, amount, reference: ref("bad"), source: "manual" }))
          expect(e._tag, String(amount)).toBe("InvalidAmount")
        }
        expect((yield* Effect.flip(wallets.deposit({ phone: "12", amount: 1, reference: ref("x"), source: "manual" })))._tag)
          .toBe("InvalidPhone")
        expect((yield* Effect.flip(wallets.deposit({ phone, amount: 1, reference: " ", source: "manual" })))._tag)
          .toBe("ValidationError")
        expect((yield* Effect.flip(wallets.deposit({ phone, amount: 1, reference: ref("x"), source: "gift" as "manual" })))._tag)
          .toBe("ValidationError")
        expect((yield* Effect.flip(wallets.withdraw({ phone: freshPhone(), amount: 1, reference: ref("x") })))._tag)
          .toBe("CustomerNotFound")
        expect(
          (yield* Effect.flip(
            wallets.issueVirtualCredit({ phone, amount: 1, reason: "r", reference: ref("x"), expiresInDays: 1, expiresAt: new Date(0) })
          ))._tag
        ).toBe("ValidationError")
        expect(yield* wallets.get(phone)).toMatchObject({ balance: 0, virtualBalance: 0, credits: [] })
        expect((yield* wallets.transactions(phone)).items).toEqual([])
      }))

    it.effect("property: near Number.MAX_SAFE_INTEGER a deposit or credit that would take a total past it is refused too_large and writes nothing; every total read back is a safe integer", () =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Wallets | Customers | SqlClient.SqlClient>()
        const run = Runtime.runPromise(runtime)
        const MAX = Number.MAX_SAFE_INTEGER
        const amount = fc.oneof(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: MAX - 10_000, max: MAX }))
        const op = fc.record({ kind: fc.constantFrom("deposit" as const, "credit" as const), amount })
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 6 }), async (ops) => {
              const phone = await run(newCustomer)
              let total = 0 // balance + credits: nothing is spent or expires here, so available = total
              let accepted = 0
              for (const { amount, kind } of ops) {
                const reference = ref(kind)
                const write = kind === "deposit"
                  ? Effect.flatMap(Wallets, (w) => w.deposit({ phone, amount, reference, source: "manual" }))
                  : Effect.flatMap(Wallets, (w) => w.issueVirtualCredit({ phone, amount, reason: "near the bound", reference }))
                const exit = await run(Effect.either(write))
                const view = await run(Effect.flatMap(Wallets, (w) => w.get(phone)))
                if (total + amount > MAX) {
                  expect(Either.isLeft(exit) && exit.left).toMatchObject({ _tag: "InvalidAmount", reason: "too_large" })
                } else {
                  expect(Either.isRight(exit)).toBe(true)
                  total += amount
                  accepted += 1
                  // the write's own answer, and its replay, carry the same safe totals
                  if (Either.isRight(exit)) expect(exit.right.wallet.available).toBe(total)
                  expect(await run(Effect.either(write))).toEqual(exit)
                }
                for (const v of [view.balance, view.virtualBalance, view.available]) expect(Number.isSafeInteger(v)).toBe(true)
                expect(view.available).toBe(total)
              }
              const entries = await run(Effect.flatMap(Wallets, (w) => w.transactions(phone, { limit: 100 })))
              // a refused write wrote nothing: one ledger entry per accepted write
              expect(entries.items.length).toBe(accepted)
              expect((await run(auditLedger)).violations).toEqual([])
            }),
            { numRuns: 25 }
          )
        )
      }))

    it.effect("model-based: random deposits, withdrawals, credits, clock moves, expiries and replays agree with a reference model", () =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Wallets | Customers | SqlClient.SqlClient>()
        const run = Runtime.runPromise(runtime)
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.commands(commands, { maxCommands: 30 }), async (cmds) => {
              // A clean slate: credits of earlier runs are expired before this run starts.
              await run(Effect.zipRight(TestClock.adjust(400 * DAY), Effect.flatMap(Wallets, (w) => w.expireCredits())))
              const phones = await run(Effect.all([newCustomer, newCustomer, newCustomer]))
              const now = await run(Effect.map(TestClock.currentTimeMillis, Number))
              const setup = () => ({
                model: { now, wallets: phones.map(() => ({ balance: 0, credits: [] as Array<ModelCredit> })), writes: [] },
                real: { run, phones }
              })
              await fc.asyncModelRun(setup, cmds)
              const report = await run(auditLedger)
              expect(report.violations).toEqual([])
            }),
            { numRuns: 30 }
          )
        )
      }), { timeout: 300_000 })
  })

// --- the reference model -------------------------------------------------------------------------

interface ModelCredit {
  id: string
  remaining: number
  issuedAt: number
  expiresAt: number
  expired: boolean
}
interface ModelWallet {
  balance: number
  credits: Array<ModelCredit>
}
interface Write {
  readonly kind: "deposit" | "withdraw" | "credit"
  readonly input: Record<string, unknown>
  readonly result: unknown
}
interface Model {
  now: number
  readonly wallets: Array<ModelWallet>
  readonly writes: Array<Write>
}
interface Real {
  readonly run: <A, E>(effect: Effect.Effect<A, E, Wallets | Customers | SqlClient.SqlClient>) => Promise<A>
  readonly phones: ReadonlyArray<string>
}

const spendable = (w: ModelWallet, now: number) =>
  w.credits
    .filter((c) => !c.expired && c.remaining > 0 && now < c.expiresAt)
    .sort((a, b) => a.expiresAt - b.expiresAt || a.issuedAt - b.issuedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

const attempt = <A>(real: Real, f: (w: WalletsShape) => Effect.Effect<A, { _tag: string }>) =>
  real.run(Effect.either(Effect.flatMap(Wallets, f)))

/** The real wallet must show what the model holds. */
const agree = async (m: Model, r: Real, i: number) => {
  const view = await r.run(Effect.flatMap(Wallets, (w) => w.get(r.phones[i]!)))
  const w = m.wallets[i]!
  const virtual = spendable(w, m.now).reduce((s, c) => s + c.remaining, 0)
  expect({ balance: view.balance, virtual: view.virtualBalance }).toEqual({ balance: w.balance, virtual })
  const live = w.credits.filter((c) => !c.expired && c.remaining > 0).map((c) => [c.id, c.remaining]).sort()
  expect(view.credits.map((c) => [c.id, c.remaining]).sort()).toEqual(live)
}

class Deposit implements fc.AsyncCommand<Model, Real> {
  constructor(readonly wallet: number, readonly amount: number) {}
  check = () => true
  async run(m: Model, r: Real) {
    const input = { phone: r.phones[this.wallet]!, amount: this.amount, reference: ref("dep"), source: "manual" as const }
    const result = Either.getOrThrow(await attempt(r, (w) => w.deposit(input)))
    m.wallets[this.wallet]!.balance += this.amount
    m.writes.push({ kind: "deposit", input, result })
    await agree(m, r, this.wallet)
  }
  toString = () => `deposit(#${this.wallet}, ${this.amount})`
}

class Withdraw implements fc.AsyncCommand<Model, Real> {
  constructor(readonly wallet: number, readonly amount: number) {}
  check = () => true
  async run(m: Model, r: Real) {
    const w = m.wallets[this.wallet]!
    const credits = spendable(w, m.now)
    const available = w.balance + credits.reduce((s, c) => s + c.remaining, 0)
    const input = { phone: r.phones[this.wallet]!, amount: this.amount, reference: ref("wd") }
    const result = await attempt(r, (wallets) => wallets.withdraw(input))
    if (available < this.amount) {
      expect(Either.isLeft(result) && result.left).toMatchObject({ _tag: "InsufficientFunds", available, requested: this.amount })
    } else {
      const ok = Either.getOrThrow(result)
      let left = this.amount
      const parts: Array<{ creditId: string; amount: number }> = []
      for (const c of credits) {
        if (left === 0) break
        const take = Math.min(left, c.remaining)
        c.remaining -= take
        left -= take
        parts.push({ creditId: c.id, amount: take })
      }
      w.balance -= left
      expect({ fromCredits: ok.fromCredits, fromReal: ok.fromReal }).toEqual({ fromCredits: parts, fromReal: left })
      m.writes.push({ kind: "withdraw", input, result: ok })
    }
    await agree(m, r, this.wallet)
  }
  toString = () => `withdraw(#${this.wallet}, ${this.amount})`
}

class IssueCredit implements fc.AsyncCommand<Model, Real> {
  constructor(readonly wallet: number, readonly amount: number, readonly days: number) {}
  check = () => true
  async run(m: Model, r: Real) {
    const input = { phone: r.phones[this.wallet]!, amount: this.amount, reason: "model", reference: ref("vc"), expiresInDays: this.days }
    const ok = Either.getOrThrow(await attempt(r, (w) => w.issueVirtualCredit(input)))
    expect(ok.credit.expiresAt.getTime() - ok.credit.issuedAt.getTime()).toBe(this.days * DAY)
    m.wallets[this.wallet]!.credits.push({
      id: ok.credit.id,
      remaining: this.amount,
      issuedAt: m.now,
      expiresAt: m.now + this.days * DAY,
      expired: false
    })
    m.writes.push({ kind: "credit", input, result: ok })
    await agree(m, r, this.wallet)
  }
  toString = () => `credit(#${this.wallet}, ${this.amount}, ${this.days}d)`
}

class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly hours: number) {}
  check = () => true
  async run(m: Model, r: Real) {
    await r.run(TestClock.adjust(this.hours * 3_600_000))
    m.now += this.hours * 3_600_000
    for (let i = 0; i < m.wallets.length; i++) await agree(m, r, i)
  }
  toString = () => `advance(${this.hours}h)`
}

class Expire implements fc.AsyncCommand<Model, Real> {
  constructor(readonly batchSize: number) {}
  check = () => true
  async run(m: Model, r: Real) {
    let expired = 0
    let amount = 0
    for (const w of m.wallets) {
      for (const c of w.credits) {
        if (!c.expired && c.remaining > 0 && c.expiresAt <= m.now) {
          expired++
          amount += c.remaining
          c.remaining = 0
          c.expired = true
        }
      }
    }
    const result = Either.getOrThrow(await attempt(r, (w) => w.expireCredits({ batchSize: this.batchSize })))
    expect(result).toEqual({ expired, amount })
    for (let i = 0; i < m.wallets.length; i++) await agree(m, r, i)
  }
  toString = () => `expire(batch ${this.batchSize})`
}

class Replay implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number, readonly changePayload: boolean) {}
  check = (m: Readonly<Model>) => m.writes.length > 0
  async run(m: Model, r: Real) {
    const write = m.writes[this.pick % m.writes.length]!
    const input = this.changePayload ? { ...write.input, amount: (write.input.amount as number) + 1 } : write.input
    const result = await attempt(r, (w): Effect.Effect<unknown, { _tag: string }> =>
      write.kind === "deposit"
        ? w.deposit(input as never)
        : write.kind === "withdraw"
        ? w.withdraw(input as never)
        : w.issueVirtualCredit(input as never))
    if (this.changePayload) {
      expect(Either.isLeft(result) && result.left._tag).toBe("IdempotencyConflict")
    } else {
      expect(Either.getOrThrow(result)).toEqual(write.result)
    }
    for (let i = 0; i < m.wallets.length; i++) await agree(m, r, i)
  }
  toString = () => `replay(#${this.pick}${this.changePayload ? ", changed" : ""})`
}

const wallet = fc.integer({ min: 0, max: 2 })
const amount = fc.integer({ min: 1, max: 50 }).map((n) => n * 1_000)
const commands = [
  fc.tuple(wallet, amount).map(([w, a]) => new Deposit(w, a)),
  fc.tuple(wallet, amount).map(([w, a]) => new Withdraw(w, a)),
  fc.tuple(wallet, amount, fc.integer({ min: 1, max: 20 })).map(([w, a, d]) => new IssueCredit(w, a, d)),
  fc.integer({ min: 1, max: 24 * 10 }).map((h) => new Advance(h)),
  fc.integer({ min: 1, max: 4 }).map((b) => new Expire(b)),
  fc.tuple(fc.nat(), fc.boolean()).map(([p, c]) => new Replay(p, c))
]
