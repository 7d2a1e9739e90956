/**
 * Pure wallet rules (DOMAIN §3): amounts, the spend order, the withdrawal and expiry planners and the
 * views, checked as properties with fast-check 4 plus a small model of a wallet driven by the planners.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "fast-check"
import { InvalidAmount, money, type InvalidAmountReason, type Money } from "../src/kernel/Money.js"
import {
  type CreditId,
  type CreditStatus,
  creditView,
  CreditView,
  DEFAULT_CREDIT_DAYS,
  type EntryKind,
  InsufficientFunds,
  isSpendable,
  makeCreditId,
  planExpiry,
  planWithdrawal,
  spendOrder,
  totalsStaySafe,
  type VirtualCredit,
  virtualBalance,
  walletView,
  type WalletState,
  type WithdrawalPlan
} from "../src/wallets/Wallet.js"

const RUNS = { numRuns: 1_000 } as const
const HOUR = 3_600_000
const DAY = 24 * HOUR
const T0 = Date.UTC(2025, 0, 1)
/** Every generated amount or balance stays below this, so any sum of ≤ 30 of them is a safe integer. */
const MAX_AMOUNT = 10 ** 12

const m = (n: number): Money => Either.getOrThrow(money(n))

// --- generators ---------------------------------------------------------------------------------

/** An instant in [T0, T0 + 60 days]; often on a 6-hour grid so that ties and exact boundaries happen. */
const arbMillis: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: 0, max: 240 }).map((k) => T0 + k * 6 * HOUR),
  fc.integer({ min: T0, max: T0 + 60 * DAY })
)

/** A credit's life: the default 15 days, whole days, or any number of milliseconds up to 30 days. */
const arbLife: fc.Arbitrary<number> = fc.oneof(
  fc.constant(DEFAULT_CREDIT_DAYS * DAY),
  fc.integer({ min: 1, max: 30 }).map((d) => d * DAY),
  fc.integer({ min: 1, max: 30 * DAY })
)

/** An amount of đồng: often small (so exact sums and boundaries are hit), sometimes large. */
const arbAmount: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: 1, max: 100 }),
  fc.integer({ min: 1, max: 1_000_000 }),
  fc.integer({ min: 1, max: MAX_AMOUNT })
)

const arbBalance: fc.Arbitrary<number> = fc.oneof(
  fc.constant(0),
  fc.integer({ min: 0, max: 1_000 }),
  fc.integer({ min: 0, max: MAX_AMOUNT })
)

const arbRandom = fc.uint8Array({ minLength: 10, maxLength: 10 })

const arbStatus: fc.Arbitrary<CreditStatus> = fc.oneof(
  { weight: 6, arbitrary: fc.constant("active" as const) },
  { weight: 1, arbitrary: fc.constant("consumed" as const) },
  { weight: 1, arbitrary: fc.constant("expired" as const) }
)

/**
 * When a credit lives: either issued at any instant with any life, or expiring on one of a few days
 * with one of a few lives, so that equal `expiresAt` with different `issuedAt`, and equal both, are
 * frequent (the tie-breaks of the spend order).
 */
const arbTimes: fc.Arbitrary<{ readonly issuedAt: number; readonly expiresAt: number }> = fc.oneof(
  fc.record({ issuedAt: arbMillis, life: arbLife }).map(({ issuedAt, life }) => ({ issuedAt, expiresAt: issuedAt + life })),
  fc
    .record({ day: fc.integer({ min: 10, max: 16 }), life: fc.constantFrom(10, DEFAULT_CREDIT_DAYS, 20) })
    .map(({ day, life }) => ({ issuedAt: T0 + (day - life) * DAY, expiresAt: T0 + day * DAY }))
)

/**
 * A stored credit: an id made by `makeCreditId` (from its issue time, or sometimes from another
 * instant, as for a credit imported or back-dated, so the id does not always follow `issuedAt`), a
 * positive amount, a remainder in [0, amount] (often full or zero), any status (non-active ones may
 * keep a remainder, to check that the planners look at the status and not only at the remainder).
 */
const arbCredit: fc.Arbitrary<VirtualCredit> = fc
  .record({
    times: arbTimes,
    idMillis: fc.option(fc.integer({ min: T0 - 30 * DAY, max: T0 + 60 * DAY }), { freq: 4, nil: null }),
    random: arbRandom,
    amount: arbAmount,
    status: arbStatus,
    reason: fc.constantFrom("goodwill", "late_delivery", "promo"),
    ticketId: fc.constantFrom(null, "tk_01HZY0000000000000000000000")
  })
  .chain((r) =>
    fc.oneof(fc.constant(r.amount), fc.constant(0), fc.integer({ min: 0, max: r.amount })).map((remaining): VirtualCredit => ({
      id: makeCreditId(r.idMillis ?? r.times.issuedAt, r.random),
      amount: r.amount,
      remaining,
      issuedAt: new Date(r.times.issuedAt),
      expiresAt: new Date(r.times.expiresAt),
      status: r.status,
      reason: r.reason,
      ticketId: r.ticketId
    }))
  )

const arbCredits: fc.Arbitrary<Array<VirtualCredit>> = fc.uniqueArray(arbCredit, { selector: (c) => c.id, maxLength: 12 })

/** An instant to look at the credits: anywhere, or exactly at / just around one credit's expiry. */
const arbNowFor = (credits: ReadonlyArray<VirtualCredit>): fc.Arbitrary<Date> => {
  const edges = credits.flatMap((c) => {
    const t = c.expiresAt.getTime()
    return [t - 1, t, t + 1]
  })
  return (edges.length === 0 ? arbMillis : fc.oneof(arbMillis, fc.constantFrom(...edges), fc.constantFrom(...edges))).map(
    (t) => new Date(t)
  )
}

const spendableSum = (credits: ReadonlyArray<VirtualCredit>, now: Date): number =>
  credits
    .filter((c) => c.status === "active" && c.remaining > 0 && now.getTime() < c.expiresAt.getTime())
    .reduce((s, c) => s + c.remaining, 0)

/** A withdrawal amount around what the wallet holds: exactly it, one more or less, below, or anything. */
const arbAmountFor = (available: number): fc.Arbitrary<Money> =>
  fc
    .oneof(
      fc.constant(Math.max(1, available)),
      fc.constant(available + 1),
      fc.constant(Math.max(1, available - 1)),
      fc.integer({ min: 1, max: Math.max(1, available) }),
      arbAmount
    )
    .map(m)

interface Scenario {
  readonly balance: number
  readonly credits: ReadonlyArray<VirtualCredit>
  readonly now: Date
  readonly amount: Money
}

const arbScenario: fc.Arbitrary<Scenario> = fc
  .record({ balance: arbBalance, credits: arbCredits })
  .chain(({ balance, credits }) =>
    arbNowFor(credits).chain((now) =>
      arbAmountFor(balance + spendableSum(credits, now)).map((amount): Scenario => ({ balance, credits, now, amount }))
    )
  )

const byId = (credits: ReadonlyArray<VirtualCredit>): Map<string, VirtualCredit> => new Map(credits.map((c) => [c.id, c]))

const get = <K, V>(map: ReadonlyMap<K, V>, key: K): V => {
  const v = map.get(key)
  if (v === undefined) throw new Error(`missing ${String(key)}`)
  return v
}

const expectRight = <A, E>(e: Either.Either<A, E>): A => {
  if (Either.isLeft(e)) throw new Error(`expected Right, got Left: ${String(e.left)}`)
  return e.right
}

const expectLeft = <A, E>(e: Either.Either<A, E>): E => {
  if (Either.isRight(e)) throw new Error(`expected Left, got Right: ${JSON.stringify(e.right)}`)
  return e.left
}

const deepFreeze = (credits: ReadonlyArray<VirtualCredit>): ReadonlyArray<VirtualCredit> =>
  Object.freeze(credits.map((c) => Object.freeze({ ...c })))

// --- money --------------------------------------------------------------------------------------

const reasonOf = (u: unknown): InvalidAmountReason => {
  const e = expectLeft(money(u))
  expect(e).toBeInstanceOf(InvalidAmount)
  expect(e._tag).toBe("InvalidAmount")
  return e.reason
}

describe("money", () => {
  it("accepts 1, 1_000_000 and Number.MAX_SAFE_INTEGER; rejects the hand-picked edges with the right reason", () => {
    for (const n of [1, 500, 1_000_000, Number.MAX_SAFE_INTEGER]) expect(expectRight(money(n))).toBe(n)
    expect(reasonOf(0)).toBe("not_positive")
    expect(reasonOf(-0)).toBe("not_positive")
    expect(reasonOf(-1)).toBe("not_positive")
    expect(reasonOf(Number.MIN_SAFE_INTEGER)).toBe("not_positive")
    expect(reasonOf(0.5)).toBe("not_integer")
    expect(reasonOf(1.5)).toBe("not_integer")
    expect(reasonOf(Number.EPSILON)).toBe("not_integer")
    expect(reasonOf(Number.MIN_VALUE)).toBe("not_integer")
    expect(reasonOf(NaN)).toBe("not_a_number")
    expect(reasonOf(Number.POSITIVE_INFINITY)).toBe("too_large")
    expect(reasonOf(Number.MAX_SAFE_INTEGER + 1)).toBe("too_large")
    expect(reasonOf(2 ** 60)).toBe("too_large")
    expect(reasonOf(Number.MAX_VALUE)).toBe("too_large")
    for (const u of ["1", "100", " 5 ", "1e3", "", 1n, 100n, null, undefined, true, {}, [], [1], new Number(5), { valueOf: () => 5 }, Symbol("5")]) {
      expect(reasonOf(u)).toBe("not_a_number")
    }
  })

  it("-Infinity is rejected as not_positive (it is negative, not 'too large')", () => {
    expect(reasonOf(Number.NEGATIVE_INFINITY)).toBe("not_positive")
    expect(expectLeft(money(Number.NEGATIVE_INFINITY)).message).not.toContain("too large")
  })

  it("accepts every positive safe integer and returns it unchanged", () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })), (n) => {
        expect(expectRight(money(n))).toBe(n)
      }),
      RUNS
    )
  })

  it("is Right exactly for numbers that are safe integers > 0, and never throws, on fc.anything()", () => {
    const arb = fc.oneof(
      fc.anything({
        withBigInt: true,
        withBoxedValues: true,
        withDate: true,
        withMap: true,
        withSet: true,
        withNullPrototype: true,
        withObjectString: true,
        withSparseArray: true,
        withTypedArray: true
      }),
      fc.double(),
      fc.integer()
    )
    fc.assert(
      fc.property(arb, (u) => {
        const r = money(u)
        const valid = typeof u === "number" && Number.isSafeInteger(u) && u > 0
        expect(Either.isRight(r)).toBe(valid)
        if (Either.isLeft(r)) {
          expect(r.left._tag).toBe("InvalidAmount")
          expect(typeof r.left.message).toBe("string")
          expect(r.left.message).toMatch(/^Amount .* \((not_a_number|not_integer|not_positive|too_large)\)$/s)
          if (typeof u !== "number") expect(r.left.reason).toBe("not_a_number")
        }
      }),
      RUNS
    )
  })

  it("rejects every finite non-integer number as not_integer", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Number.isInteger(x)), (x) => {
        expect(reasonOf(x)).toBe("not_integer")
      }),
      RUNS
    )
  })

  it("rejects 0 and every negative integer as not_positive", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.integer({ min: Number.MIN_SAFE_INTEGER, max: 0 }), fc.integer({ min: -100, max: 0 }), fc.constant(-0)),
        (n) => {
          expect(reasonOf(n)).toBe("not_positive")
        }
      ),
      RUNS
    )
  })

  it("rejects every number above Number.MAX_SAFE_INTEGER (finite or +Infinity) as too_large", () => {
    fc.assert(
      fc.property(fc.double({ min: Number.MAX_SAFE_INTEGER + 1, noNaN: true }), (x) => {
        expect(reasonOf(x)).toBe("too_large")
      }),
      RUNS
    )
  })

  it("rejects numeric strings, bigints, booleans, null, undefined, arrays and objects as not_a_number", () => {
    const arb = fc.oneof(
      fc.integer().map(String),
      fc.double().map(String),
      fc.bigInt(),
      fc.bigInt().map(String),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.array(fc.integer({ min: 1, max: 100 }), { maxLength: 2 }),
      fc.object(),
      fc.integer({ min: 1, max: 100 }).map((n) => new Number(n)),
      fc.integer({ min: 1, max: 100 }).map((n) => ({ valueOf: () => n }))
    )
    fc.assert(
      fc.property(arb, (u) => {
        expect(reasonOf(u)).toBe("not_a_number")
      }),
      RUNS
    )
  })

  it("an error is tagged InvalidAmount and reads 'Amount <input> <why> (<reason>)', input cut to 40 characters", () => {
    const e1 = expectLeft(money("12"))
    expect(e1._tag).toBe("InvalidAmount")
    expect(e1.message).toBe(`Amount "12" is not a number (not_a_number)`)
    expect(expectLeft(money(1.5)).message).toBe("Amount 1.5 is not a whole number of đồng (not_integer)")
    expect(expectLeft(money(-3)).message).toBe("Amount -3 must be greater than zero (not_positive)")
    expect(expectLeft(money(2 ** 53)).message).toBe("Amount 9007199254740992 is too large (too_large)")
    fc.assert(
      fc.property(fc.string({ maxLength: 100, size: "max" }), (s) => {
        const e = expectLeft(money(s))
        const quoted = JSON.stringify(s)
        expect(e.input).toBe(quoted.length > 40 ? `${quoted.slice(0, 40)}…` : quoted)
        expect(e.message).toBe(`Amount ${e.input} is not a number (not_a_number)`)
      }),
      RUNS
    )
  })
})

// --- spend order --------------------------------------------------------------------------------

const credit = (over: Partial<VirtualCredit> & { readonly id: CreditId }): VirtualCredit => ({
  amount: 100,
  remaining: 100,
  issuedAt: new Date(T0),
  expiresAt: new Date(T0 + DEFAULT_CREDIT_DAYS * DAY),
  status: "active",
  reason: "goodwill",
  ticketId: null,
  ...over
})

const idAt = (millis: number, lastByte: number): CreditId => makeCreditId(millis, new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, lastByte]))

describe("totalsStaySafe", () => {
  const MAX = Number.MAX_SAFE_INTEGER
  const big = fc.oneof(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: MAX - 1_000_000, max: MAX }))
  it("property: holds exactly when balance + added + the active credits' remainders, summed exactly, is at most MAX_SAFE_INTEGER", () => {
    fc.assert(
      fc.property(big, big, fc.array(fc.record({ remaining: big, status: fc.constantFrom("active", "consumed", "expired") }), { maxLength: 4 }), (balance, added, parts) => {
        const credits = parts.map((p, i) => ({ ...credit({ id: `vc_${String(i).padStart(26, "0")}` as CreditId }), remaining: p.remaining, status: p.status as CreditStatus }))
        const exact = credits.reduce((sum, c) => (c.status === "active" ? sum + BigInt(c.remaining) : sum), BigInt(balance) + BigInt(added))
        expect(totalsStaySafe(balance, credits, added)).toBe(exact <= BigInt(MAX))
      }),
      RUNS
    )
  })
})

describe("spendOrder", () => {
  it("is a total order on credits with distinct ids: antisymmetric, transitive, zero only for the same id", () => {
    fc.assert(
      fc.property(arbCredit, arbCredit, arbCredit, (a, b, c) => {
        expect(Math.sign(spendOrder(a, b))).toBe(-Math.sign(spendOrder(b, a)))
        if (a.id !== b.id) expect(spendOrder(a, b)).not.toBe(0)
        expect(spendOrder(a, a)).toBe(0)
        if (spendOrder(a, b) <= 0 && spendOrder(b, c) <= 0) expect(spendOrder(a, c)).toBeLessThanOrEqual(0)
      }),
      RUNS
    )
  })

  it("orders by expiresAt, then issuedAt, then id", () => {
    fc.assert(
      fc.property(arbCredit, arbCredit, (a, b) => {
        const s = Math.sign(spendOrder(a, b))
        const ea = a.expiresAt.getTime()
        const eb = b.expiresAt.getTime()
        const ia = a.issuedAt.getTime()
        const ib = b.issuedAt.getTime()
        const expected = ea !== eb ? Math.sign(ea - eb) : ia !== ib ? Math.sign(ia - ib) : a.id < b.id ? -1 : a.id > b.id ? 1 : 0
        expect(s).toBe(expected)
      }),
      RUNS
    )
  })
})

// --- planWithdrawal -----------------------------------------------------------------------------

/** Checks every invariant of a successful plan against its inputs. */
const checkPlan = (balance: number, credits: ReadonlyArray<VirtualCredit>, amount: number, now: Date, plan: WithdrawalPlan): void => {
  const index = byId(credits)
  const spendable = credits.filter((c) => isSpendable(c, now)).sort(spendOrder)
  // the parts sum exactly to the amount, each part is positive
  const fromCredits = plan.fromCredits.reduce((s, p) => s + p.amount, 0)
  expect(fromCredits + plan.fromReal).toBe(amount)
  for (const p of plan.fromCredits) expect(p.amount).toBeGreaterThan(0)
  // real money: 0 ≤ fromReal ≤ balance, balanceAfter = balance − fromReal ≥ 0
  expect(plan.fromReal).toBeGreaterThanOrEqual(0)
  expect(plan.fromReal).toBeLessThanOrEqual(balance)
  expect(plan.balanceAfter).toBe(balance - plan.fromReal)
  expect(plan.balanceAfter).toBeGreaterThanOrEqual(0)
  // each credit used once, spendable at now, remainingAfter = remaining − amount ≥ 0
  expect(new Set(plan.fromCredits.map((p) => p.creditId)).size).toBe(plan.fromCredits.length)
  for (const p of plan.fromCredits) {
    const c = get(index, p.creditId)
    expect(c.status).toBe("active")
    expect(c.remaining).toBeGreaterThan(0)
    expect(c.expiresAt.getTime()).toBeGreaterThan(now.getTime())
    expect(p.remainingAfter).toBe(c.remaining - p.amount)
    expect(p.remainingAfter).toBeGreaterThanOrEqual(0)
  }
  // spend order: each credit used precedes the next in spendOrder; all but the last are emptied
  for (let i = 1; i < plan.fromCredits.length; i++) {
    const prev = get(index, plan.fromCredits[i - 1]!.creditId)
    const next = get(index, plan.fromCredits[i]!.creditId)
    expect(spendOrder(prev, next)).toBeLessThan(0)
    expect(plan.fromCredits[i - 1]!.remainingAfter).toBe(0)
  }
  // the credits used are a prefix of the spendable credits in spend order: none skipped
  expect(plan.fromCredits.map((p) => p.creditId)).toEqual(spendable.slice(0, plan.fromCredits.length).map((c) => c.id))
  // real money only once every spendable credit is exhausted
  if (plan.fromReal > 0) {
    expect(plan.fromCredits.length).toBe(spendable.length)
    for (const p of plan.fromCredits) expect(p.remainingAfter).toBe(0)
  }
  // no more credit than needed: a credit left with a remainder means nothing came from real money
  const last = plan.fromCredits[plan.fromCredits.length - 1]
  if (last !== undefined && last.remainingAfter > 0) expect(plan.fromReal).toBe(0)
}

describe("planWithdrawal", () => {
  it("on success: parts sum to the amount, follow the spend order, spend only spendable credits, real money last; else InsufficientFunds exactly when available < amount", () => {
    let ok = 0
    let ko = 0
    fc.assert(
      fc.property(arbScenario, ({ balance, credits, now, amount }) => {
        const available = balance + spendableSum(credits, now)
        const result = planWithdrawal({ balance }, credits, amount, now)
        if (available < amount) {
          ko++
          const e = expectLeft(result)
          expect(e).toBeInstanceOf(InsufficientFunds)
          expect(e._tag).toBe("InsufficientFunds")
          expect(e.available).toBe(available)
          expect(e.requested).toBe(amount)
          expect(e.message).toBe(`Insufficient funds: ${amount} requested, ${available} available`)
        } else {
          ok++
          checkPlan(balance, credits, amount, now, expectRight(result))
        }
      }),
      RUNS
    )
    // the generator reaches both outcomes often
    expect(ok).toBeGreaterThan(RUNS.numRuns / 5)
    expect(ko).toBeGreaterThan(RUNS.numRuns / 20)
  })

  it("never touches an expired (expiresAt <= now), non-active or empty credit", () => {
    fc.assert(
      fc.property(arbScenario, ({ balance, credits, now, amount }) => {
        const result = planWithdrawal({ balance }, credits, amount, now)
        if (Either.isLeft(result)) return
        const untouchable = new Set(
          credits.filter((c) => c.expiresAt.getTime() <= now.getTime() || c.status !== "active" || c.remaining === 0).map((c) => c.id)
        )
        for (const p of result.right.fromCredits) expect(untouchable.has(p.creditId)).toBe(false)
      }),
      RUNS
    )
  })

  it("withdrawing everything available empties every spendable credit and the real balance", () => {
    fc.assert(
      fc.property(
        fc.record({ balance: arbBalance, credits: arbCredits }).chain((s) => arbNowFor(s.credits).map((now) => ({ ...s, now }))),
        ({ balance, credits, now }) => {
          const available = balance + spendableSum(credits, now)
          fc.pre(available > 0)
          const plan = expectRight(planWithdrawal({ balance }, credits, m(available), now))
          checkPlan(balance, credits, available, now, plan)
          expect(plan.fromReal).toBe(balance)
          expect(plan.balanceAfter).toBe(0)
          expect(plan.fromCredits.map((p) => p.creditId).sort()).toEqual(credits.filter((c) => isSpendable(c, now)).map((c) => c.id).sort())
          expect(expectLeft(planWithdrawal({ balance }, credits, m(available + 1), now)).available).toBe(available)
        }
      ),
      RUNS
    )
  })

  it("does not mutate its inputs (frozen credits, values unchanged) and does not depend on the order of the credits", () => {
    fc.assert(
      fc.property(
        arbScenario.chain((s) =>
          fc.shuffledSubarray([...s.credits], { minLength: s.credits.length, maxLength: s.credits.length }).map((shuffled) => ({ ...s, shuffled }))
        ),
        ({ balance, credits, now, amount, shuffled }) => {
          const before = structuredClone(credits)
          const wallet = Object.freeze({ balance })
          const nowBefore = now.getTime()
          const frozen = deepFreeze(credits)
          const r1 = planWithdrawal(wallet, frozen, amount, now)
          const r2 = planWithdrawal({ balance }, shuffled, amount, now)
          expect(credits).toEqual(before)
          expect(frozen).toEqual(before)
          expect(wallet.balance).toBe(balance)
          expect(now.getTime()).toBe(nowBefore)
          expect(r2).toEqual(r1)
        }
      ),
      RUNS
    )
  })

  it("a credit whose expiresAt equals now exactly is not spendable; one millisecond earlier it is", () => {
    fc.assert(
      fc.property(arbCredit, arbBalance, (c0, balance) => {
        const c: VirtualCredit = { ...c0, status: "active", remaining: c0.amount }
        const at = c.expiresAt
        const before = new Date(at.getTime() - 1)
        expect(isSpendable(c, at)).toBe(false)
        expect(isSpendable(c, before)).toBe(true)
        expect(virtualBalance([c], at)).toBe(0)
        expect(virtualBalance([c], before)).toBe(c.remaining)
        // at expiresAt: only the real balance is available
        const r = planWithdrawal({ balance }, [c], m(balance + 1), at)
        expect(expectLeft(r).available).toBe(balance)
        if (balance > 0) expect(expectRight(planWithdrawal({ balance }, [c], m(balance), at)).fromCredits).toEqual([])
        // just before: the credit pays first
        const plan = expectRight(planWithdrawal({ balance }, [c], m(c.remaining), before))
        expect(plan.fromCredits).toEqual([{ creditId: c.id, amount: c.remaining, remainingAfter: 0 }])
        expect(plan.fromReal).toBe(0)
      }),
      RUNS
    )
  })

  it("hand-written: earliest expiresAt first, ties broken by older issuedAt, then by id; then real money", () => {
    const now = new Date(T0 + DAY)
    const exp = new Date(T0 + 10 * DAY)
    // same expiresAt: `older` was issued earlier (later id time part would sort it after `newer` by id)
    const older = credit({ id: idAt(T0 + 5 * DAY, 1), issuedAt: new Date(T0 - DAY), expiresAt: exp, remaining: 30, amount: 30 })
    const newer = credit({ id: idAt(T0, 2), issuedAt: new Date(T0), expiresAt: exp, remaining: 30, amount: 30 })
    // same expiresAt and issuedAt: the smaller id first
    const idA = credit({ id: idAt(T0, 3), issuedAt: new Date(T0), expiresAt: new Date(T0 + 12 * DAY), remaining: 10, amount: 10 })
    const idB = credit({ id: idAt(T0, 4), issuedAt: new Date(T0), expiresAt: new Date(T0 + 12 * DAY), remaining: 10, amount: 10 })
    // expires earliest although issued last
    const soonest = credit({ id: idAt(T0 + 9 * DAY, 5), issuedAt: new Date(T0 + 9 * DAY), expiresAt: new Date(T0 + 2 * DAY), remaining: 5, amount: 50 })
    // ineligible: expired at exactly now, consumed status, expired status, empty
    const atNow = credit({ id: idAt(T0 - 20 * DAY, 6), issuedAt: new Date(T0 - 20 * DAY), expiresAt: now, remaining: 1000 })
    const consumed = credit({ id: idAt(T0 - 20 * DAY, 7), status: "consumed", remaining: 1000 })
    const expired = credit({ id: idAt(T0 - 20 * DAY, 8), status: "expired", remaining: 1000 })
    const empty = credit({ id: idAt(T0 - 20 * DAY, 9), remaining: 0 })
    expect(idA.id < idB.id).toBe(true)
    expect(newer.id < older.id).toBe(true)
    const credits = [idB, empty, newer, atNow, idA, expired, older, consumed, soonest]
    const sorted = credits.filter((c) => isSpendable(c, now)).sort(spendOrder).map((c) => c.id)
    expect(sorted).toEqual([soonest.id, older.id, newer.id, idA.id, idB.id])

    const plan = expectRight(planWithdrawal({ balance: 100 }, credits, m(77), now))
    expect(plan).toEqual({
      fromCredits: [
        { creditId: soonest.id, amount: 5, remainingAfter: 0 },
        { creditId: older.id, amount: 30, remainingAfter: 0 },
        { creditId: newer.id, amount: 30, remainingAfter: 0 },
        { creditId: idA.id, amount: 10, remainingAfter: 0 },
        { creditId: idB.id, amount: 2, remainingAfter: 8 }
      ],
      fromReal: 0,
      balanceAfter: 100
    })
    const all = expectRight(planWithdrawal({ balance: 100 }, credits, m(185), now))
    expect(all.fromCredits.map((p) => p.creditId)).toEqual(sorted)
    expect(all.fromReal).toBe(100)
    expect(all.balanceAfter).toBe(0)
    const short = expectLeft(planWithdrawal({ balance: 100 }, credits, m(186), now))
    expect(short).toMatchObject({ _tag: "InsufficientFunds", available: 185, requested: 186 })
    // a withdrawal the first credit covers touches nothing else
    expect(expectRight(planWithdrawal({ balance: 0 }, credits, m(3), now))).toEqual({
      fromCredits: [{ creditId: soonest.id, amount: 3, remainingAfter: 2 }],
      fromReal: 0,
      balanceAfter: 0
    })
    // no credits: real money only
    expect(expectRight(planWithdrawal({ balance: 10 }, [], m(10), now))).toEqual({ fromCredits: [], fromReal: 10, balanceAfter: 0 })
    expect(expectLeft(planWithdrawal({ balance: 0 }, [], m(1), now))).toMatchObject({ available: 0, requested: 1 })
  })
})

// --- planExpiry ---------------------------------------------------------------------------------

/** What the expiry job does with a plan: the remainder leaves, the credit is marked expired. */
const applyExpiry = (
  credits: ReadonlyArray<VirtualCredit>,
  plan: ReadonlyArray<{ readonly creditId: CreditId; readonly amount: number }>
): Array<VirtualCredit> => {
  const due = new Map(plan.map((p) => [p.creditId as string, p.amount]))
  return credits.map((c) => {
    const amount = due.get(c.id)
    return amount === undefined ? c : { ...c, remaining: c.remaining - amount, status: "expired" as const }
  })
}

const arbCreditsAndNow = arbCredits.chain((credits) => arbNowFor(credits).map((now) => ({ credits, now })))

describe("planExpiry", () => {
  it("returns exactly the active credits with a remainder and expiresAt <= now, amount = remaining, in spend order", () => {
    fc.assert(
      fc.property(arbCreditsAndNow, ({ credits, now }) => {
        const plan = planExpiry(credits, now)
        const expected = credits
          .filter((c) => c.status === "active" && c.remaining > 0 && c.expiresAt.getTime() <= now.getTime())
          .sort(spendOrder)
          .map((c) => ({ creditId: c.id, amount: c.remaining }))
        expect(plan).toEqual(expected)
        const index = byId(credits)
        for (let i = 1; i < plan.length; i++) {
          expect(spendOrder(get(index, plan[i - 1]!.creditId), get(index, plan[i]!.creditId))).toBeLessThan(0)
        }
        for (const p of plan) expect(p.amount).toBeGreaterThan(0)
      }),
      RUNS
    )
  })

  it("is disjoint from what planWithdrawal may spend at the same now, and together they cover every active credit with a remainder", () => {
    fc.assert(
      fc.property(fc.record({ balance: arbBalance, credits: arbCredits }).chain((s) => arbNowFor(s.credits).map((now) => ({ ...s, now }))), ({ balance, credits, now }) => {
        const expiring = new Set<string>(planExpiry(credits, now).map((p) => p.creditId))
        const available = balance + spendableSum(credits, now)
        const spent = available > 0 ? expectRight(planWithdrawal({ balance }, credits, m(available), now)).fromCredits.map((p) => p.creditId) : []
        for (const id of spent) expect(expiring.has(id)).toBe(false)
        const live = credits.filter((c) => c.status === "active" && c.remaining > 0).map((c) => c.id)
        expect([...expiring, ...spent].sort()).toEqual([...live].sort())
      }),
      RUNS
    )
  })

  it("is idempotent: on the state after applying its result it returns nothing; it does not mutate its input", () => {
    fc.assert(
      fc.property(arbCreditsAndNow, ({ credits, now }) => {
        const before = structuredClone(credits)
        const plan = planExpiry(deepFreeze(credits), now)
        expect(credits).toEqual(before)
        const after = applyExpiry(credits, plan)
        expect(planExpiry(after, now)).toEqual([])
        for (const c of after) if (plan.some((p) => p.creditId === c.id)) expect(c.remaining).toBe(0)
        // the spendable credits and the virtual balance are unchanged by expiring what is due
        expect(virtualBalance(after, now)).toBe(virtualBalance(credits, now))
      }),
      RUNS
    )
  })

  it("hand-written: a credit expires at exactly expiresAt, not one millisecond before", () => {
    const c = credit({ id: idAt(T0, 1), remaining: 40 })
    const at = c.expiresAt
    expect(planExpiry([c], new Date(at.getTime() - 1))).toEqual([])
    expect(planExpiry([c], at)).toEqual([{ creditId: c.id, amount: 40 }])
    expect(planExpiry([{ ...c, status: "expired" }], at)).toEqual([])
    expect(planExpiry([{ ...c, remaining: 0 }], at)).toEqual([])
    expect(planExpiry([{ ...c, status: "consumed", remaining: 0 }], new Date(at.getTime() + DAY))).toEqual([])
  })
})

// --- views --------------------------------------------------------------------------------------

describe("walletView and creditView", () => {
  it("available = balance + virtualBalance, virtualBalance = sum of spendable remainders, credits unfinished in spend order with status as of now", () => {
    fc.assert(
      fc.property(arbBalance, arbCreditsAndNow, fc.nat(), (balance, { credits, now }, version) => {
        const state: WalletState = { customerId: "cus_01HZY0000000000000000000000", balance, version, credits }
        const before = structuredClone(credits)
        const view = walletView({ ...state, credits: deepFreeze(credits) }, now)
        expect(credits).toEqual(before)
        expect(view.balance).toBe(balance)
        expect(view.virtualBalance).toBe(spendableSum(credits, now))
        expect(view.virtualBalance).toBe(virtualBalance(credits, now))
        expect(view.available).toBe(balance + view.virtualBalance)
        const listed = credits.filter((c) => c.status === "active" && c.remaining > 0).sort(spendOrder)
        expect(view.credits.map((c) => c.id)).toEqual(listed.map((c) => c.id))
        for (const v of view.credits) {
          expect(v).toBeInstanceOf(CreditView)
          expect(v.status).toBe(now.getTime() >= v.expiresAt.getTime() ? "expired" : "active")
        }
        // the listed credits still marked active are exactly the spendable ones
        expect(view.credits.filter((v) => v.status === "active").reduce((s, v) => s + v.remaining, 0)).toBe(view.virtualBalance)
      }),
      RUNS
    )
  })

  it("creditView: 'consumed' when remaining is 0, 'expired' when now ≥ expiresAt even if stored active, else the stored status", () => {
    fc.assert(
      fc.property(arbCreditsAndNow, ({ credits, now }) => {
        for (const c of credits) {
          const v = creditView(c, now)
          const expected: CreditStatus =
            c.status !== "active" ? c.status : c.remaining === 0 ? "consumed" : now.getTime() >= c.expiresAt.getTime() ? "expired" : "active"
          expect(v.status).toBe(expected)
          expect(v.status === "active").toBe(isSpendable(c, now))
          expect({ ...v, status: c.status }).toEqual({ ...c })
        }
      }),
      RUNS
    )
  })
})

// --- model --------------------------------------------------------------------------------------

type Op =
  | { readonly _tag: "deposit"; readonly amount: number }
  | { readonly _tag: "withdraw"; readonly amount: number }
  | { readonly _tag: "withdrawShare"; readonly permille: number }
  | { readonly _tag: "issue"; readonly amount: number; readonly life: number; readonly random: Uint8Array }
  | { readonly _tag: "advance"; readonly ms: number }
  | { readonly _tag: "advanceToNextExpiry" }
  | { readonly _tag: "expire" }

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: arbAmount.map((amount) => ({ _tag: "deposit" as const, amount })) },
  { weight: 2, arbitrary: arbAmount.map((amount) => ({ _tag: "withdraw" as const, amount })) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 1_200 }).map((permille) => ({ _tag: "withdrawShare" as const, permille })) },
  {
    weight: 3,
    arbitrary: fc.record({ amount: arbAmount, life: arbLife, random: arbRandom }).map((r) => ({ _tag: "issue" as const, ...r }))
  },
  {
    weight: 2,
    arbitrary: fc
      .oneof(fc.constant(DEFAULT_CREDIT_DAYS * DAY), fc.integer({ min: 0, max: 3 * DAY }), fc.integer({ min: 1, max: 1_000 }))
      .map((ms) => ({ _tag: "advance" as const, ms }))
  },
  { weight: 1, arbitrary: fc.constant({ _tag: "advanceToNextExpiry" as const }) },
  { weight: 2, arbitrary: fc.constant({ _tag: "expire" as const }) }
)

interface Entry {
  readonly kind: EntryKind
  readonly amount: number
  readonly creditId: string | null
}

interface Model {
  now: number
  balance: number
  credits: Array<VirtualCredit>
  readonly ledger: Array<Entry>
  issued: number
}

/** A plain check for the hot loop of the model (vitest's `expect` is slow when called millions of times). */
const ensure = (cond: boolean, message: () => string): void => {
  if (!cond) throw new Error(message())
}

const checkModel = (s: Model): void => {
  ensure(Number.isSafeInteger(s.balance) && s.balance >= 0, () => `balance ${s.balance} is not a non-negative safe integer`)
  // real balance = sum of deposits − sum of the fromReal parts; each remainder = the sum of its entries
  let real = 0
  const own = new Map<string, number>()
  for (const e of s.ledger) {
    if (e.kind === "deposit" || e.kind === "withdrawal") real += e.amount
    else if (e.creditId !== null) own.set(e.creditId, (own.get(e.creditId) ?? 0) + e.amount)
  }
  ensure(real === s.balance, () => `ledger sum ${real} ≠ balance ${s.balance}`)
  for (const c of s.credits) {
    ensure(c.remaining >= 0 && c.remaining <= c.amount, () => `credit ${c.id}: remaining ${c.remaining} outside [0, ${c.amount}]`)
    ensure(own.get(c.id) === c.remaining, () => `credit ${c.id}: entries sum to ${own.get(c.id)}, remaining is ${c.remaining}`)
    ensure(c.status === "active" || c.remaining === 0, () => `credit ${c.id}: ${c.status} with remaining ${c.remaining}`)
  }
}

const step = (s: Model, op: Op): void => {
  const now = new Date(s.now)
  switch (op._tag) {
    case "deposit": {
      s.balance += op.amount
      s.ledger.push({ kind: "deposit", amount: op.amount, creditId: null })
      return
    }
    case "issue": {
      const random = new Uint8Array(op.random)
      random[0] = s.issued & 0xff
      random[1] = (s.issued >> 8) & 0xff
      s.issued++
      const id = makeCreditId(s.now, random)
      expect(s.credits.some((c) => c.id === id)).toBe(false)
      s.credits.push({
        id,
        amount: op.amount,
        remaining: op.amount,
        issuedAt: new Date(s.now),
        expiresAt: new Date(s.now + op.life),
        status: "active",
        reason: "goodwill",
        ticketId: null
      })
      s.ledger.push({ kind: "credit_issued", amount: op.amount, creditId: id })
      return
    }
    case "advance": {
      s.now += op.ms
      return
    }
    case "advanceToNextExpiry": {
      const next = s.credits.map((c) => c.expiresAt.getTime()).filter((t) => t > s.now)
      if (next.length > 0) s.now = Math.min(...next)
      return
    }
    case "expire": {
      const plan = planExpiry(s.credits, now)
      s.credits = applyExpiry(s.credits, plan)
      for (const p of plan) s.ledger.push({ kind: "credit_expired", amount: -p.amount, creditId: p.creditId })
      expect(planExpiry(s.credits, now)).toEqual([])
      return
    }
    case "withdraw":
    case "withdrawShare": {
      const available = s.balance + virtualBalance(s.credits, now)
      const amount = op._tag === "withdraw" ? op.amount : Math.max(1, Math.ceil((available * op.permille) / 1_000))
      const result = planWithdrawal({ balance: s.balance }, s.credits, m(amount), now)
      if (Either.isLeft(result)) {
        // all or nothing: nothing is applied
        expect(available).toBeLessThan(amount)
        expect(result.left.available).toBe(available)
        return
      }
      const plan = result.right
      checkPlan(s.balance, s.credits, amount, now, plan)
      const parts = new Map(plan.fromCredits.map((p) => [p.creditId as string, p]))
      s.credits = s.credits.map((c) => {
        const p = parts.get(c.id)
        if (p === undefined) return c
        s.ledger.push({ kind: "credit_spent", amount: -p.amount, creditId: c.id })
        return { ...c, remaining: p.remainingAfter, status: p.remainingAfter === 0 ? ("consumed" as const) : c.status }
      })
      if (plan.fromReal > 0) s.ledger.push({ kind: "withdrawal", amount: -plan.fromReal, creditId: null })
      s.balance = plan.balanceAfter
      expect(s.balance + virtualBalance(s.credits, now)).toBe(available - amount)
      return
    }
  }
}

describe("wallet model", () => {
  it("random deposits, withdrawals, credit issues, expiries and time steps never make the balance or a remainder negative, and the ledger sums to the balance", () => {
    const seen = { withdrawals: 0, refused: 0, mixed: 0, expired: 0 }
    fc.assert(
      fc.property(fc.array(arbOp, { minLength: 5, maxLength: 50, size: "max" }), (ops) => {
        const s: Model = { now: T0, balance: 0, credits: [], ledger: [], issued: 0 }
        for (const op of ops) {
          const before = s.ledger.slice()
          step(s, op)
          const added = s.ledger.slice(before.length)
          if (op._tag === "withdraw" || op._tag === "withdrawShare") {
            if (added.length === 0) seen.refused++
            else seen.withdrawals++
            if (added.some((e) => e.kind === "withdrawal") && added.some((e) => e.kind === "credit_spent")) seen.mixed++
          }
          if (op._tag === "expire" && added.length > 0) seen.expired++
          checkModel(s)
        }
        const view = walletView({ customerId: "cus_model", balance: s.balance, version: s.ledger.length, credits: s.credits }, new Date(s.now))
        expect(view.balance).toBe(s.balance)
        expect(view.available).toBe(s.balance + virtualBalance(s.credits, new Date(s.now)))
      }),
      RUNS
    )
    // the sequences reach every kind of outcome
    expect(seen.withdrawals).toBeGreaterThan(2 * RUNS.numRuns)
    expect(seen.refused).toBeGreaterThan(RUNS.numRuns / 2)
    expect(seen.mixed).toBeGreaterThan(RUNS.numRuns / 2)
    expect(seen.expired).toBeGreaterThan(RUNS.numRuns / 4)
  })
})
