/**
 * The unit-of-work contract (docs/transactions.md), run against SQLite, SQLite with deferred writes,
 * PostgreSQL and D1: inside one `Transactions.withTransaction`, any mix of customer, note and wallet
 * writes commits together or not at all — a failure after them leaves no customer, wallet, ledger
 * entry, credit, idempotency record, note, activity or outbox event behind — and a transaction can use what it wrote
 * (create a customer, then credit its wallet; two writes to one wallet).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import * as Runtime from "effect/Runtime"
import * as fc from "fast-check"
import { Customers } from "../../src/customers/Customers.js"
import { Transactions } from "../../src/platform/Transactions.js"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { Wallets } from "../../src/wallets/Wallets.js"
import { Notes } from "../../src/notes/Notes.js"
import { auditLedger, WRITTEN_TABLES } from "../support/audit.js"
import { freshPhone, servicesOver } from "./customers.js"

let refCounter = 0
const ref = (label: string) => `${label}-${Date.now().toString(36)}-${refCounter++}`

/** Row counts of every table a customer or wallet write touches, and the sum of all balances. */
const snapshot = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.gen(function*() {
    const counts: Record<string, number> = {}
    for (const table of WRITTEN_TABLES) {
      const [row] = yield* sql<{ n: unknown }>`SELECT count(*) AS n FROM ${sql(table)}`
      counts[table] = Number(row!.n)
    }
    const [sum] = yield* sql<{ s: unknown }>`SELECT coalesce(sum(balance), 0) AS s FROM c360_wallets`
    counts.balances = Number(sum!.s)
    return counts
  }).pipe(Effect.orDie))

const countWhere = (table: string, column: string, value: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: unknown }>`SELECT count(*) AS n FROM ${sql(table)} WHERE ${sql(column)} = ${value}`.pipe(
      Effect.map((rows) => Number(rows[0]!.n)),
      Effect.orDie
    ))

class Boom {
  readonly _tag = "Boom"
}

/** One write of a random unit of work: on a customer the transaction creates, or on one that exists. */
type Step =
  | { readonly op: "getOrCreate"; readonly who: "new" | "existing" }
  | { readonly op: "deposit"; readonly who: "new" | "existing"; readonly amount: number }
  | { readonly op: "credit"; readonly who: "new" | "existing"; readonly amount: number }
  | { readonly op: "withdraw"; readonly who: "new" | "existing"; readonly amount: number }
  | { readonly op: "rename"; readonly who: "existing" }
  | { readonly op: "note"; readonly who: "new" | "existing" }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant("getOrCreate" as const), who: fc.constantFrom("new" as const, "existing" as const) }),
  fc.record({ op: fc.constant("note" as const), who: fc.constantFrom("new" as const, "existing" as const) }),
  fc.record({
    op: fc.constantFrom("deposit" as const, "credit" as const, "withdraw" as const),
    who: fc.constantFrom("new" as const, "existing" as const),
    amount: fc.integer({ min: 1, max: 50_000 })
  })
)

export const atomicityContract = <E>(name: string, storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>) =>
  layer(servicesOver(storage), { timeout: "120 seconds" })(name, (it) => {
    it.effect("create a customer, then credit its wallet, in one transaction: both commit", () =>
      Effect.gen(function*() {
        const tx = yield* Transactions
        const customers = yield* Customers
        const wallets = yield* Wallets
        const phone = freshPhone()
        const reference = ref("boom")
        const credit = yield* tx.withTransaction(Effect.gen(function*() {
          const { created } = yield* customers.getOrCreate({ phone, source: "ticket" })
          expect(created).toBe(true)
          return yield* wallets.issueVirtualCredit({ phone, amount: 1_000, reason: "BOOM", reference })
        }))
        expect(credit.wallet).toMatchObject({ balance: 0, virtualBalance: 1_000, available: 1_000 })
        const wallet = yield* wallets.get(phone)
        expect(wallet).toMatchObject({ balance: 0, virtualBalance: 1_000 })
        const customer = (yield* customers.findByPhone(phone))
        expect(customer._tag).toBe("Some")
        if (customer._tag === "Some") {
          expect(yield* countWhere("c360_outbox", "subject", customer.value.id)).toBe(2) // created + credit
        }
        // the same reference replays the committed credit
        const again = yield* wallets.issueVirtualCredit({ phone, amount: 1_000, reason: "BOOM", reference })
        expect(again).toEqual(credit)
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("a deposit followed by a failure, in one transaction, leaves the balance and the reference untouched", () =>
      Effect.gen(function*() {
        const tx = yield* Transactions
        const customers = yield* Customers
        const wallets = yield* Wallets
        const phone = freshPhone()
        yield* customers.create({ phone, name: "Existing" })
        const reference = ref("bank")
        const before = yield* snapshot
        const exit = yield* Effect.exit(tx.withTransaction(
          Effect.zipRight(wallets.deposit({ phone, amount: 5_000, reference, source: "manual" }), Effect.fail(new Boom()))
        ))
        expect(Exit.isFailure(exit)).toBe(true)
        expect(yield* snapshot).toEqual(before)
        expect((yield* wallets.get(phone)).balance).toBe(0)
        // nothing was recorded under the reference: a later delivery applies, it does not replay
        yield* wallets.deposit({ phone, amount: 5_000, reference, source: "manual" })
        expect((yield* wallets.get(phone)).balance).toBe(5_000)
      }))

    it.effect("create, deposit, credit and withdraw on one new customer, then a failure: nothing of it exists", () =>
      Effect.gen(function*() {
        const tx = yield* Transactions
        const customers = yield* Customers
        const wallets = yield* Wallets
        const phone = freshPhone()
        const before = yield* snapshot
        const exit = yield* Effect.exit(tx.withTransaction(Effect.gen(function*() {
          yield* customers.getOrCreate({ phone, name: "Gone", source: "bank_transfer" })
          yield* wallets.deposit({ phone, amount: 20_000, reference: ref("bank"), source: "bank_transfer" })
          yield* wallets.issueVirtualCredit({ phone, amount: 3_000, reason: "BOOM", reference: ref("credit") })
          const spent = yield* wallets.withdraw({ phone, amount: 4_000, reference: ref("order") })
          // the withdrawal saw the transaction's own deposit and credit
          expect(spent.fromReal).toBe(1_000)
          return yield* Effect.fail(new Boom())
        })))
        expect(Exit.isFailure(exit)).toBe(true)
        expect(yield* snapshot).toEqual(before)
        expect((yield* customers.findByPhone(phone))._tag).toBe("None")
      }))

    it.effect("two writes to one existing wallet in one transaction both commit, and plan on each other", () =>
      Effect.gen(function*() {
        const tx = yield* Transactions
        const customers = yield* Customers
        const wallets = yield* Wallets
        const phone = freshPhone()
        yield* customers.create({ phone, name: "Twice" })
        yield* wallets.deposit({ phone, amount: 1_000, reference: ref("seed"), source: "manual" })
        const spent = yield* tx.withTransaction(Effect.gen(function*() {
          yield* wallets.deposit({ phone, amount: 9_000, reference: ref("bank"), source: "manual" })
          return yield* wallets.withdraw({ phone, amount: 10_000, reference: ref("order") })
        }))
        expect(spent.wallet.balance).toBe(0)
        expect((yield* wallets.get(phone)).balance).toBe(0)
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("a nested transaction joins the outer one: the outer failure undoes the inner writes", () =>
      Effect.gen(function*() {
        const tx = yield* Transactions
        const customers = yield* Customers
        const wallets = yield* Wallets
        const phone = freshPhone()
        const before = yield* snapshot
        const exit = yield* Effect.exit(tx.withTransaction(Effect.gen(function*() {
          yield* tx.withTransaction(Effect.gen(function*() {
            yield* customers.getOrCreate({ phone, source: "ticket" })
            yield* wallets.issueVirtualCredit({ phone, amount: 2_000, reason: "BOOM", reference: ref("credit") })
          }))
          return yield* Effect.fail(new Boom())
        })))
        expect(Exit.isFailure(exit)).toBe(true)
        expect(yield* snapshot).toEqual(before)
      }))

    it.effect("property: any mix of customer and wallet writes in one transaction, then a failure, leaves every table as it was; without the failure, all of it commits", () =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Customers | Wallets | Notes | Transactions | SqlClient.SqlClient>()
        const run = <A, E>(effect: Effect.Effect<A, E, Customers | Wallets | Notes | Transactions | SqlClient.SqlClient>) =>
          Runtime.runPromise(runtime)(effect)
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.array(stepArb, { minLength: 1, maxLength: 8 }), fc.boolean(), async (steps, fail) =>
              run(Effect.gen(function*() {
                const tx = yield* Transactions
                const customers = yield* Customers
                const wallets = yield* Wallets
                const notes = yield* Notes
                const existing = freshPhone()
                yield* customers.create({ phone: existing, name: "Existing" })
                const fresh = freshPhone()
                const before = yield* snapshot
                // the expected balances and credits of each wallet, had every step committed
                const expected = { new: { real: 0, credit: 0, exists: false }, existing: { real: 0, credit: 0, exists: true } }
                const body = Effect.gen(function*() {
                  for (const step of steps) {
                    const phone = step.who === "new" ? fresh : existing
                    const model = expected[step.who]
                    if (!model.exists) {
                      // every wallet write needs its customer: the transaction creates it first
                      yield* customers.getOrCreate({ phone, source: "ticket" })
                      model.exists = true
                    }
                    switch (step.op) {
                      case "getOrCreate":
                        yield* customers.getOrCreate({ phone, source: "ticket" })
                        break
                      case "note":
                        yield* notes.add(phone, { text: "a note in the unit of work" })
                        break
                      case "deposit":
                        yield* wallets.deposit({ phone, amount: step.amount, reference: ref("d"), source: "manual" })
                        model.real += step.amount
                        break
                      case "credit":
                        yield* wallets.issueVirtualCredit({ phone, amount: step.amount, reason: "BOOM", reference: ref("c") })
                        model.credit += step.amount
                        break
                      case "withdraw": {
                        const amount = Math.min(step.amount, model.real + model.credit)
                        if (amount === 0) break
                        const r = yield* wallets.withdraw({ phone, amount, reference: ref("w") })
                        expect(r.fromReal + r.fromCredits.reduce((s, c) => s + c.amount, 0)).toBe(amount)
                        const fromCredit = Math.min(amount, model.credit)
                        model.credit -= fromCredit
                        model.real -= amount - fromCredit
                        break
                      }
                    }
                  }
                  if (fail) return yield* Effect.fail(new Boom())
                })
                const exit = yield* Effect.exit(tx.withTransaction(body))
                if (fail) {
                  expect(Exit.isFailure(exit)).toBe(true)
                  expect(yield* snapshot).toEqual(before)
                  expect((yield* customers.findByPhone(fresh))._tag).toBe("None")
                } else {
                  expect(exit).toStrictEqual(Exit.void)
                  for (const who of ["new", "existing"] as const) {
                    const model = expected[who]
                    if (!model.exists) continue
                    const wallet = yield* wallets.get(who === "new" ? fresh : existing)
                    expect({ real: wallet.balance, credit: wallet.virtualBalance }).toEqual({ real: model.real, credit: model.credit })
                  }
                  expect((yield* auditLedger).violations).toEqual([])
                }
              }))
            ),
            { numRuns: 25 }
          )
        )
      }))
  })
