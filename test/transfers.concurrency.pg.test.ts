/**
 * DOMAIN §5 on PostgreSQL under concurrent load, through separate pool connections: SePay's retries
 * arriving at once (one webhook id delivered by 20 callers, matched by the phone of a customer who
 * does not exist yet, so that the customer's creation races too), 20 distinct transfers of one
 * customer at once, and staff resolving one pending transfer at once (2 and 8 of them, for the same
 * customer and for different ones). A transfer is stored once, linked once and deposited once.
 *
 * Two interleavings are forced rather than hoped for (`interleave`): a call that read the transfer
 * (or found no transfer of its id) before a concurrent one committed, and reached its deposit after
 * — the deposit then finds the reference `sepay:<id>` recorded with another customer's payload, and
 * the answer must still be `TransferAlreadyLinked` (staff) or the first transfer (a delivery).
 *
 * Each call runs under its own fixed `Clock` (`atTime`) whose `sleep` is the live one, so that the
 * unit of work's backoff before a rerun really sleeps (the TestClock of `it.effect` never moves).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { describe, expect, layer } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Deferred from "effect/Deferred"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { Customers } from "../src/customers/Customers.js"
import type { BankTransfer } from "../src/transfers/Transfer.js"
import { Transactions } from "../src/platform/Transactions.js"
import { Transfers } from "../src/transfers/Transfers.js"
import { Wallets } from "../src/wallets/Wallets.js"
import { freshPhone } from "./contract/customers.js"
import {
  AUTHORIZATION,
  entriesOf,
  freshSepayId,
  mangledCode,
  newCustomer,
  phoneFormats,
  sepayBody,
  servicesWithTransfers,
  transferRowsOf
} from "./contract/transfers.js"
import { auditLedger } from "./support/audit.js"
import { atTime } from "./support/clock.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

const SECOND = 1_000
const T0 = Date.UTC(2026, 5, 1, 2)

const failureOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined
const tagOf = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return "success"
  const e = failureOf(exit)
  return typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : `defect ${Cause.pretty(exit.cause)}`
}

const count = (query: Effect.Effect<ReadonlyArray<{ readonly n: unknown }>, unknown>) =>
  Effect.map(query, (rows) => Number(rows[0]?.n ?? 0)).pipe(Effect.orDie)

/**
 * Runs `late` so that it has read and planned — its writes waiting in its unit of work, which
 * PostgreSQL sends at commit — then runs `meanwhile` to its commit, then lets `late` commit: its
 * batch finds what `meanwhile` wrote (a unique key, a version guard), its transaction runs again on
 * fresh reads, and answers from them. (`phone`: a phone `late` would create a customer for; the
 * caller checks that no such customer is left.)
 */
const interleave = <A, E, R, B, E2, R2>(
  _phone: string,
  late: Effect.Effect<A, E, R>,
  meanwhile: Effect.Effect<B, E2, R2>
) =>
  Effect.gen(function*() {
    const tx = yield* Transactions
    const planned = yield* Deferred.make<void>()
    const go = yield* Deferred.make<void>()
    let attempts = 0
    const waiter = yield* Effect.fork(Effect.exit(tx.withTransaction(Effect.tap(late, () =>
      Effect.suspend(() =>
        ++attempts === 1 ? Effect.zipRight(Deferred.succeed(planned, undefined), Deferred.await(go)) : Effect.void
      )))))
    yield* Deferred.await(planned)
    const first = yield* Effect.exit(meanwhile)
    yield* Deferred.succeed(go, undefined)
    const result = yield* Fiber.join(waiter)
    expect(attempts, "the late call planned on what it read, and ran again").toBeGreaterThanOrEqual(1)
    return { first, late: result }
  }).pipe(atTime(T0))

/**
 * `staff` staff resolve one new pending transfer at once — to the same customer, or alternately to
 * two (so that a loser's deposit is another payload under the winner's reference) — the i-th one
 * starting `i × stagger` ms late, so that some read the transfer before the winner commits and
 * reach the deposit after.
 */
const resolveRace = (staff: number, target: "one customer" | "different customers", stagger: number) =>
  Effect.gen(function*() {
    const transfers = yield* Transfers
    const customers = yield* Effect.all(Array.from({ length: 2 }, () => newCustomer()), { concurrency: 1 }).pipe(atTime(T0))
    const { transfer } = yield* transfers.receiveSepay(
      sepayBody({ content: `CK ${customers[0]!.phone} HOAC ${customers[1]!.phone}`, amount: 64_000 }),
      AUTHORIZATION
    ).pipe(atTime(T0))
    expect(transfer.status).toBe("pending")
    const inputOf = (i: number) => {
      const c = customers[target === "one customer" ? 0 : i % 2]!
      return i % 4 < 2 ? { customerId: c.id } : { phone: c.phone }
    }
    const exits = yield* Effect.all(
      Array.from({ length: staff }, (_, i) =>
        Effect.exit(
          Effect.zipRight(
            Effect.sleep(`${i * stagger} millis`),
            transfers.resolve(transfer.id, inputOf(i), { actor: `staff:${i}` })
          ).pipe(atTime(T0 + (i + 1) * SECOND))
        )),
      { concurrency: "unbounded" }
    )
    const label = `stagger ${stagger} ms: ${exits.map(tagOf).join(", ")}`
    const tags = exits.map(tagOf)
    expect(tags.filter((t) => t === "success"), label).toHaveLength(1)
    expect(tags.filter((t) => t !== "success"), label).toEqual(Array(staff - 1).fill("TransferAlreadyLinked"))
    const winner = exits.findIndex(Exit.isSuccess)
    const winnerCustomer = customers[target === "one customer" ? 0 : winner % 2]!
    for (const exit of exits) {
      if (Exit.isFailure(exit)) expect(failureOf(exit), label).toMatchObject({ id: transfer.id, customerId: winnerCustomer.id })
    }
    const stored = yield* transfers.get(transfer.id)
    expect(stored, label).toMatchObject({ status: "linked", customerId: winnerCustomer.id, linkedBy: `staff:${winner}`, version: 1 })
    const entries = yield* entriesOf(`sepay:${transfer.providerId}`)
    expect(entries.map((e) => [String(e.customer_id), Number(e.amount), String(e.transaction_id)]), label).toEqual([
      [winnerCustomer.id, 64_000, stored.depositTransactionId]
    ])
    for (const c of customers) {
      const balance = (yield* Effect.flatMap(Wallets, (w) => w.get(c.phone))).balance
      expect(balance, label).toBe(c.id === winnerCustomer.id ? 64_000 : 0)
    }
    expect((yield* auditLedger).violations, label).toEqual([])
  })

describe.skipIf(!pgEnabled)("PostgreSQL transfer concurrency", () => {
  layer(servicesWithTransfers(pgStorage({ maxConnections: 24 })), { timeout: "60 seconds" })((it) => {
    it.effect("one webhook id delivered by 20 callers at once, matched by a new customer's phone: one transfer, one customer, one deposit, one pair of events; every answer agrees, 19 are duplicates", () =>
      Effect.gen(function*() {
        const transfers = yield* Transfers
        const sql = yield* SqlClient.SqlClient
        const phone = freshPhone()
        const id = freshSepayId()
        const exits = yield* Effect.all(
          Array.from({ length: 20 }, (_, i) =>
            Effect.exit(
              transfers.receiveSepay(
                sepayBody({ id, content: `CK SDT ${phoneFormats[i % phoneFormats.length]!(phone)} mua hang`, amount: 120_000 }),
                AUTHORIZATION
              ).pipe(atTime(T0 + i * SECOND))
            )),
          { concurrency: "unbounded" }
        )
        expect(exits.map(tagOf)).toEqual(Array(20).fill("success"))
        const answers = exits.map((e) => (e as Exit.Success<{ transfer: unknown; duplicate: boolean }, never>).value)
        expect(answers.filter((a) => !a.duplicate)).toHaveLength(1)
        const first = answers.find((a) => !a.duplicate)!.transfer
        for (const a of answers) expect(a.transfer).toEqual(first)
        const customer = Option.getOrThrow(yield* Effect.flatMap(Customers, (c) => c.findByPhone(phone)))
        expect(customer.source).toBe("bank_transfer")
        expect(first).toMatchObject({ status: "matched", customerId: customer.id, match: { by: "phone" } })
        expect(yield* count(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_customers WHERE phone = ${phone}`)).toBe(1)
        expect(yield* transferRowsOf(id)).toBe(1)
        const entries = yield* entriesOf(`sepay:${id}`)
        expect(entries.map((e) => [String(e.customer_id), String(e.kind), Number(e.amount)])).toEqual([[customer.id, "deposit", 120_000]])
        const events = yield* sql<{ type: string }>`SELECT type FROM c360_outbox
          WHERE channel IN ('transfers', 'wallets') AND subject = ${customer.id} ORDER BY seq`
        expect(events.map((e) => e.type)).toEqual(["wallet.deposit", "transfer.received", "transfer.linked"])
        expect(yield* count(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_outbox
          WHERE type = 'customer.created' AND subject = ${customer.id}`)).toBe(1)
        expect((yield* Effect.flatMap(Wallets, (w) => w.get(phone))).balance).toBe(120_000)
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("one webhook id delivered by 20 callers at once with contents naming two different customers (started together, then staggered by 2 ms): one transfer, one deposit, every answer is the first transfer", () =>
      Effect.gen(function*() {
        const transfers = yield* Transfers
        const customers = yield* Effect.all([newCustomer(), newCustomer()]).pipe(atTime(T0))
        for (const stagger of [0, 2]) {
          const id = freshSepayId()
          const exits = yield* Effect.all(
            Array.from({ length: 20 }, (_, i) =>
              Effect.exit(
                Effect.zipRight(
                  Effect.sleep(`${i * stagger} millis`),
                  transfers.receiveSepay(sepayBody({ id, content: `CK ${customers[i % 2]!.phone}`, amount: 30_000 }), AUTHORIZATION)
                ).pipe(atTime(T0 + i * SECOND))
              )),
            { concurrency: "unbounded" }
          )
          const label = `stagger ${stagger} ms: ${exits.map(tagOf).join(", ")}`
          expect(exits.map(tagOf), label).toEqual(Array(20).fill("success"))
          const answers = exits.map((e) => (e as Exit.Success<{ transfer: BankTransfer; duplicate: boolean }, never>).value)
          expect(answers.filter((a) => !a.duplicate), label).toHaveLength(1)
          const first = answers.find((a) => !a.duplicate)!.transfer
          for (const a of answers) expect(a.transfer, label).toEqual(first)
          expect(yield* transferRowsOf(id)).toBe(1)
          const entries = yield* entriesOf(`sepay:${id}`)
          expect(entries.map((e) => String(e.customer_id)), label).toEqual([first.customerId])
        }
        const balances = yield* Effect.forEach(customers, (c) => Effect.map(Effect.flatMap(Wallets, (w) => w.get(c.phone)), (v) => v.balance))
        expect(balances[0]! + balances[1]!).toBe(2 * 30_000)
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("20 distinct transfers of one customer at once (by code and by phone): 20 transfers, 20 deposits, the balance is their sum", () =>
      Effect.gen(function*() {
        const transfers = yield* Transfers
        const customer = yield* newCustomer().pipe(atTime(T0))
        const amounts = Array.from({ length: 20 }, (_, i) => 1_000 * (i + 1))
        const ids = amounts.map(() => freshSepayId())
        const results = yield* Effect.all(
          ids.map((id, i) =>
            transfers.receiveSepay(
              sepayBody({
                id,
                content: i % 2 === 0 ? `${mangledCode(customer.paymentCode)}chuyen khoan` : `CK ${customer.phone}`,
                amount: amounts[i]!
              }),
              AUTHORIZATION
            ).pipe(atTime(T0 + i * SECOND))),
          { concurrency: "unbounded" }
        )
        expect(results.map((r) => [r.duplicate, r.transfer.status, r.transfer.customerId])).toEqual(
          results.map(() => [false, "matched", customer.id])
        )
        expect(new Set(results.map((r) => r.transfer.depositTransactionId)).size).toBe(20)
        for (const id of ids) {
          expect(yield* transferRowsOf(id)).toBe(1)
          expect(yield* entriesOf(`sepay:${id}`)).toHaveLength(1)
        }
        expect((yield* Effect.flatMap(Wallets, (w) => w.get(customer.phone))).balance).toBe(amounts.reduce((a, b) => a + b, 0))
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("a staff member who read the pending transfer before another's link committed, and deposits after it, fails TransferAlreadyLinked (one deposit, no customer created)", () =>
      Effect.gen(function*() {
        const transfers = yield* Transfers
        const a = yield* newCustomer().pipe(atTime(T0))
        const b = yield* newCustomer().pipe(atTime(T0))
        const { transfer } = yield* transfers.receiveSepay(
          sepayBody({ content: `CK ${a.phone} HOAC ${b.phone}`, amount: 45_000 }),
          AUTHORIZATION
        ).pipe(atTime(T0))
        const newPhone = freshPhone()
        const { first, late } = yield* interleave(
          newPhone,
          transfers.resolve(transfer.id, { phone: newPhone }, { actor: "staff:late" }),
          transfers.resolve(transfer.id, { customerId: a.id }, { actor: "staff:first" })
        )
        expect(tagOf(first)).toBe("success")
        expect(failureOf(late)).toMatchObject({ _tag: "TransferAlreadyLinked", id: transfer.id, customerId: a.id })
        expect(yield* transfers.get(transfer.id)).toMatchObject({ status: "linked", customerId: a.id, linkedBy: "staff:first", version: 1 })
        expect((yield* entriesOf(`sepay:${transfer.providerId}`)).map((e) => String(e.customer_id))).toEqual([a.id])
        expect(Option.isNone(yield* Effect.flatMap(Customers, (c) => c.findByPhone(newPhone)))).toBe(true)
        expect((yield* auditLedger).violations).toEqual([])
      }))

    it.effect("a delivery that found no transfer of its id before another delivery of it committed, and deposits after it, answers duplicate: true with the first transfer (one deposit, no customer created)", () =>
      Effect.gen(function*() {
        const transfers = yield* Transfers
        const a = yield* newCustomer().pipe(atTime(T0))
        const id = freshSepayId()
        const newPhone = freshPhone()
        const { first, late } = yield* interleave(
          newPhone,
          transfers.receiveSepay(sepayBody({ id, content: `CK ${newPhone}`, amount: 45_000 }), AUTHORIZATION),
          transfers.receiveSepay(sepayBody({ id, content: `CK ${a.phone}`, amount: 45_000 }), AUTHORIZATION)
        )
        expect(tagOf(first)).toBe("success")
        const winner = (first as Exit.Success<{ transfer: BankTransfer; duplicate: boolean }, never>).value
        expect(winner).toMatchObject({ duplicate: false, transfer: { customerId: a.id } })
        expect(tagOf(late)).toBe("success")
        expect((late as Exit.Success<unknown, never>).value).toEqual({ transfer: winner.transfer, duplicate: true })
        expect(yield* transferRowsOf(id)).toBe(1)
        expect((yield* entriesOf(`sepay:${id}`)).map((e) => String(e.customer_id))).toEqual([a.id])
        expect(Option.isNone(yield* Effect.flatMap(Customers, (c) => c.findByPhone(newPhone)))).toBe(true)
        expect((yield* auditLedger).violations).toEqual([])
      }))

    for (const staff of [2, 8]) {
      for (const target of ["one customer", "different customers"] as const) {
        it.effect(`${staff} staff resolving one pending transfer at once (${target}; started together, then staggered by 2 and 4 ms): exactly one succeeds, the others fail TransferAlreadyLinked, one deposit`, () =>
          Effect.gen(function*() {
            for (const stagger of [0, 2, 4]) yield* resolveRace(staff, target, stagger)
          }))
      }
    }
  })
})
