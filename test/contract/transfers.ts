/**
 * The bank-transfer contract (DOMAIN §5), run against SQLite, SQLite with deferred writes,
 * PostgreSQL and D1 (transfers.*.test.ts): SePay deliveries authenticated by their API key and
 * validated before anything is stored, matched by a customer's payment code or by exactly one phone
 * (never the shop's own numbers), linked and deposited once (reference `sepay:<id>`) with their events
 * and activity; repeated deliveries that change nothing; pending and outgoing transfers in the staff
 * queues, resolved or linked by staff at most once; the customer's VietQR; the 360 view — and a
 * model-based test in which random deliveries, redeliveries, resolutions and links run against the
 * real adapters and a model of transfers by id and wallet balances, which must agree after every
 * step, with the ledger audit clean after every sequence.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import { type Customer, makeCustomerId } from "../../src/customers/Customer.js"
import { Customers } from "../../src/customers/Customers.js"
import * as Config from "../../src/kernel/Config.js"
import type { StoredEvent } from "../../src/kernel/Events.js"
import * as Registry from "../../src/modules.js"
import { Notes } from "../../src/notes/Notes.js"
import * as EventBus from "../../src/platform/EventBus.js"
import { Outbox } from "../../src/platform/Outbox.js"
import type { StoragePorts } from "../../src/storage/Storage.js"
import type { BankTransfer } from "../../src/transfers/Transfer.js"
import * as TransfersService from "../../src/transfers/Transfers.js"
import { Transfers, type TransfersShape } from "../../src/transfers/Transfers.js"
import { parseVietQr } from "../../src/transfers/VietQr.js"
import { Wallets } from "../../src/wallets/Wallets.js"
import { auditLedger } from "../support/audit.js"
import { freshPhone } from "./customers.js"

// --- the shop's bank side ------------------------------------------------------------------------

export const SEPAY_KEY = "sepay-contract-key-2026"
export const AUTHORIZATION = `Apikey ${SEPAY_KEY}`
export const BANK_BIN = "970436"
export const BANK_ACCOUNT = "0071000888999"
/** The shop's hotline, as configured (any format): never a customer's. */
export const SHOP_PHONE = "0909 123 456"
/** An account number of the shop that reads like a phone (some banks use the owner's phone). */
export const SHOP_ACCOUNT = "0988.777.666"

export const transfersOptions: NonNullable<Config.ConfigOptions["transfers"]> = {
  sepayApiKey: SEPAY_KEY,
  bankBin: BANK_BIN,
  bankAccount: BANK_ACCOUNT,
  shopPhones: [SHOP_PHONE],
  shopAccounts: [SHOP_ACCOUNT]
}

/** The configuration with the shop's bank side, as a layer. */
export const configWithTransfers = (transfers: Config.ConfigOptions["transfers"] = transfersOptions) =>
  Layer.unwrapEffect(Effect.map(Effect.orDie(Config.make({ transfers })), Config.layer))

/** Every service over the given storage with the transfers configured, the storage exposed for assertions. */
export const servicesWithTransfers = <E>(
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  transfers: Config.ConfigOptions["transfers"] = transfersOptions
) =>
  Registry.services.pipe(
    Layer.provideMerge(Layer.mergeAll(configWithTransfers(transfers), EventBus.layer)),
    Layer.provideMerge(storage)
  )

// --- deliveries ------------------------------------------------------------------------------------

let idCounter = 1_000_000 + Math.floor(Math.random() * 1_000_000) * 100
/** A SePay transaction id no other delivery of the process uses. */
export const freshSepayId = (): number => idCounter++

let oldCounter = Math.floor(Math.random() * 4_000_000)
/** A fresh Viettel number written before 2018 (`0166…`, 11 digits) and its canonical form (`036…`). */
export const freshOldMobile = (): { readonly old: string; readonly canonical: string } => {
  const last7 = String(oldCounter++).padStart(7, "0")
  return { old: `0166${last7}`, canonical: `036${last7}` }
}

/** A SePay webhook body; `content`, `amount` and the rest as given. */
export const sepayBody = (fields: {
  readonly id?: number | string
  readonly content: string
  readonly amount?: number
  readonly transferType?: string
  readonly transactionDate?: string
}): Record<string, unknown> => ({
  id: fields.id ?? freshSepayId(),
  gateway: "Vietcombank",
  transactionDate: fields.transactionDate ?? "2026-03-01 10:15:00",
  accountNumber: BANK_ACCOUNT,
  code: null,
  content: fields.content,
  transferType: fields.transferType ?? "in",
  transferAmount: fields.amount ?? 150_000,
  accumulated: 19_077_000,
  subAccount: null,
  referenceCode: "FT26060219815231",
  description: `BankAPINotify ${fields.content}`
})

/** A payment code as a bank writes it: lower case, cut by a space, a dot and a dash. */
export const mangledCode = (code: string): string =>
  `${code.slice(0, 4)} ${code.slice(4, 6)}.${code.slice(6, 8)}-${code.slice(8)}`.toLowerCase()

/** The phone `p` (`0912345678`) in some of the ways a sender writes it. */
export const phoneFormats: ReadonlyArray<(p: string) => string> = [
  (p) => p,
  (p) => `+84 ${p.slice(1, 4)} ${p.slice(4, 7)} ${p.slice(7)}`,
  (p) => `(+84) ${p.slice(1, 4)}-${p.slice(4, 7)}-${p.slice(7)}`,
  (p) => `84${p.slice(1)}`,
  (p) => `0084${p.slice(1)}`,
  (p) => `${p.slice(0, 4)}.${p.slice(4, 7)}.${p.slice(7)}`,
  (p) => p.replace(/\d/g, (d) => String.fromCharCode(0xff10 + Number(d)))
]

// --- reading what is stored ---------------------------------------------------------------------

const scalar = (query: Effect.Effect<ReadonlyArray<{ readonly n: unknown }>, unknown>) =>
  Effect.map(query, (rows) => Number(rows[0]?.n ?? 0)).pipe(Effect.orDie)

/** Rows of every table a delivery can write. */
export const rowCounts = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  Effect.all({
    transfers: scalar(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_bank_transfers`),
    ledger: scalar(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_ledger_entries`),
    outbox: scalar(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_outbox`),
    customers: scalar(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_customers`)
  }))

/** The ledger entries of a reference. */
export const entriesOf = (reference: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<Record<string, unknown>>`SELECT transaction_id, customer_id, kind, amount FROM c360_ledger_entries
      WHERE reference = ${reference}`.pipe(Effect.orDie))

/** The transfer rows of a SePay id. */
export const transferRowsOf = (providerId: string | number) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    scalar(sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_bank_transfers
      WHERE provider = 'sepay' AND provider_id = ${String(providerId)}`))

const outboxEnd = Effect.flatMap(Outbox, (o) => o.end)
const eventsSince = (mark: string) => Effect.flatMap(Outbox, (o) => o.read(mark, 10_000)).pipe(Effect.orDie)

const balanceOf = (phone: string) => Effect.map(Effect.flatMap(Wallets, (w) => w.get(phone)), (v) => v.balance)

/** A new customer (with a phone, as every customer created by phone has). */
export const newCustomer = (name = "Transfer customer") =>
  Effect.flatMap(Customers, (c) => c.create({ phone: freshPhone(), name })).pipe(
    Effect.orDie,
    Effect.map((c) => c as Customer & { readonly phone: string })
  )

/** A delivery with the configured key, or with the header given (`undefined`: no header). */
const deliver = (body: unknown, ...header: [] | [string | undefined]) =>
  Effect.flatMap(Transfers, (t) => t.receiveSepay(body, header.length === 0 ? AUTHORIZATION : header[0]))

/** The Transfers service over the same storage, with the default configuration (no key, no bank). */
const unconfigured = Effect.provide(TransfersService.make, Config.layerDefault)

const clean = Effect.map(auditLedger, (r) => r.violations)

/** `modelRuns`: the model-based test's number of sequences (default 10; fewer on a slow engine). */
export const transferContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>,
  options: { readonly modelRuns?: number } = {}
) =>
  layer(servicesWithTransfers(storage), { timeout: "120 seconds" })(name, (it) => {
    it.effect("a code in the content (lower case, cut, glued to the next word) links the customer and deposits once as sepay:<id>, with its events and activity", () =>
      Effect.gen(function*() {
        yield* TestClock.setTime(Date.UTC(2026, 2, 1, 3, 20))
        const customer = yield* newCustomer()
        const other = yield* newCustomer("Someone else")
        const mark = yield* outboxEnd
        const id = freshSepayId()
        // the other customer's phone is in the content too: the code wins
        const content = `MBVCB.3278907687.${mangledCode(customer.paymentCode)}chuyen tien ${other.phone} FT25308710231543`
        const received = yield* deliver(sepayBody({ id, content, amount: 275_000 }))
        expect(received.duplicate).toBe(false)
        const t = received.transfer
        expect(t).toMatchObject({
          provider: "sepay",
          providerId: String(id),
          status: "matched",
          customerId: customer.id,
          amount: 275_000,
          transferType: "in",
          content,
          linkedBy: TransfersService.MATCHER_ACTOR
        })
        expect(t.match).toMatchObject({ by: "code", reason: "code", candidates: [] })
        expect(t.match.explanation).toContain(customer.paymentCode)
        expect(t.depositTransactionId).not.toBeNull()
        expect(yield* Effect.flatMap(Transfers, (s) => s.get(t.id))).toEqual(t)
        // the wallet and its ledger
        expect(yield* balanceOf(customer.phone)).toBe(275_000)
        expect(yield* balanceOf(other.phone)).toBe(0)
        const ledger = yield* Effect.flatMap(Wallets, (w) => w.transactions(customer.phone))
        expect(ledger.items.map((e) => [e.kind, e.amount, e.reference, e.source, e.transactionId])).toEqual([
          ["deposit", 275_000, `sepay:${id}`, "bank_transfer", t.depositTransactionId]
        ])
        // the events
        const events = yield* eventsSince(mark)
        const transferEvents = events.filter((e) => e.channel === "transfers")
        expect(transferEvents.map((e) => [e.type, e.subject])).toEqual([
          ["transfer.received", customer.id],
          ["transfer.linked", customer.id]
        ])
        const linked = transferEvents[1]!.data as { transfer: Record<string, unknown>; depositTransactionId: string }
        expect(linked.depositTransactionId).toBe(t.depositTransactionId)
        expect(linked.transfer).toMatchObject({ id: t.id, providerId: String(id), status: "matched", amount: 275_000 })
        const deposits = events.filter((e: StoredEvent) => e.type === "wallet.deposit")
        expect(deposits.map((e) => [e.channel, e.subject, (e.data as { reference: string }).reference])).toEqual([
          ["wallets", customer.id, `sepay:${id}`]
        ])
        // the activity
        const activities = yield* Effect.flatMap(Notes, (n) => n.activities(customer.phone, { kinds: ["transfer.linked"] }))
        expect(activities.items.map((a) => [a.kind, a.actor, a.subjectType, a.subjectId])).toEqual([
          ["transfer.linked", TransfersService.MATCHER_ACTOR, "transfer", t.id]
        ])
        expect(activities.items[0]!.summary).toContain("deposited")
        expect(yield* clean).toEqual([])
      }))

    it.effect("a code is only a code some customer holds; one phone in the content in any DOMAIN §1 format matches the customer who holds it", () =>
      Effect.gen(function*() {
        for (const [i, format] of phoneFormats.entries()) {
          const customer = yield* newCustomer()
          const id = freshSepayId()
          const content = `IBFT N2ZZZZZZZZ CK ${format(customer.phone)} thanh toan don ${i + 1}`
          const { transfer } = yield* deliver(sepayBody({ id, content, amount: 10_000 + i }))
          expect(transfer.match.by, content).toBe("phone")
          expect(transfer).toMatchObject({ status: "matched", customerId: customer.id })
          expect(transfer.match.explanation).toContain(customer.phone)
          expect(yield* balanceOf(customer.phone)).toBe(10_000 + i)
          expect(yield* entriesOf(`sepay:${id}`)).toHaveLength(1)
        }
        expect(yield* clean).toEqual([])
      }))

    it.effect("a new phone creates its customer (source bank_transfer) and deposits; an old 11-digit mobile and a landline are read in their canonical form", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const phone = freshPhone()
        const { canonical, old } = freshOldMobile()
        const landline = `0283${String(Math.floor(Math.random() * 10_000_000)).padStart(7, "0")}` // HCMC, 0283…
        const cases = [
          { written: `${phone.slice(0, 4)} ${phone.slice(4, 7)} ${phone.slice(7)}`, phone },
          { written: `${old.slice(0, 5)}.${old.slice(5, 8)}.${old.slice(8)}`, phone: canonical },
          { written: `(${landline.slice(0, 3)}) ${landline.slice(3, 7)} ${landline.slice(7)}`, phone: landline }
        ]
        for (const c of cases) {
          expect(Option.isNone(yield* customers.findByPhone(c.phone))).toBe(true)
          const before = yield* rowCounts
          const { transfer } = yield* deliver(sepayBody({ content: `CHUYEN KHOAN SDT ${c.written} GD 464434-080625 10:55:18`, amount: 88_000 }))
          const created = Option.getOrThrow(yield* customers.findByPhone(c.phone))
          expect(created.source).toBe("bank_transfer")
          expect(transfer).toMatchObject({ status: "matched", customerId: created.id, match: { by: "phone" } })
          expect(yield* balanceOf(c.phone)).toBe(88_000)
          expect((yield* rowCounts).customers).toBe(before.customers + 1)
        }
        expect(yield* clean).toEqual([])
      }))

    it.effect("the shop's own phones and account numbers never match: alone they leave the transfer pending, beside a customer's phone that phone matches", () =>
      Effect.gen(function*() {
        const shopForms = ["0909123456", "+84 909 123 456", "0988777666", "0988 777 666", BANK_ACCOUNT]
        for (const shop of shopForms) {
          const before = yield* rowCounts
          const { transfer } = yield* deliver(sepayBody({ content: `NHAN TIEN TU TK ${shop} LH HOTLINE` }))
          expect(transfer, shop).toMatchObject({ status: "pending", customerId: null, depositTransactionId: null })
          expect(transfer.match).toMatchObject({ by: null, reason: "no_candidate", candidates: [] })
          const after = yield* rowCounts
          expect({ ledger: after.ledger, customers: after.customers }).toEqual({ ledger: before.ledger, customers: before.customers })
        }
        const customer = yield* newCustomer()
        const { transfer } = yield* deliver(sepayBody({ content: `TK ${SHOP_ACCOUNT} LH 0909.123.456 CK ${customer.phone}`, amount: 12_000 }))
        expect(transfer).toMatchObject({ status: "matched", customerId: customer.id, match: { by: "phone" } })
        expect(yield* balanceOf(customer.phone)).toBe(12_000)
        expect(yield* clean).toEqual([])
      }))

    it.effect("two phones, or none, leave the transfer pending with its candidates and reason: nothing deposited, listed by pending() and unlinked()", () =>
      Effect.gen(function*() {
        const transfers = yield* Transfers
        const a = yield* newCustomer()
        const b = freshPhone() // not a customer
        const before = yield* rowCounts
        const mark = yield* outboxEnd
        // far in the future: first in the lists, newest first
        const two = yield* deliver(sepayBody({ content: `CK ${a.phone} VA ${b} TIEN HANG`, transactionDate: "2099-01-02 10:00:00" }))
        const none = yield* deliver(sepayBody({ content: "THANH TOAN HOA DON FT25308710231543", transactionDate: "2099-01-01 10:00:00" }))
        expect(two.transfer).toMatchObject({ status: "pending", customerId: null, depositTransactionId: null, linkedAt: null })
        expect(two.transfer.match).toMatchObject({
          by: null,
          reason: "several_phones",
          candidates: [{ kind: "phone", phone: a.phone }, { kind: "phone", phone: b }]
        })
        expect(two.transfer.match.explanation).toContain(b)
        expect(none.transfer.match).toMatchObject({ by: null, reason: "no_candidate", candidates: [] })
        expect(none.transfer.match.explanation.length).toBeGreaterThan(0)
        const after = yield* rowCounts
        expect(after).toMatchObject({ transfers: before.transfers + 2, ledger: before.ledger, customers: before.customers })
        expect(yield* balanceOf(a.phone)).toBe(0)
        // one event each, to the transfer itself
        const events = (yield* eventsSince(mark)).filter((e) => e.channel === "transfers")
        expect(events.map((e) => [e.type, e.subject])).toEqual([
          ["transfer.received", two.transfer.id],
          ["transfer.received", none.transfer.id]
        ])
        const pending = yield* transfers.pending({ limit: 2 })
        expect(pending.items.map((t) => t.id)).toEqual([two.transfer.id, none.transfer.id])
        expect(pending.items[0]).toEqual(two.transfer)
        expect(pending.total).toBeGreaterThanOrEqual(2)
        const unlinked = yield* transfers.unlinked({ limit: 2 })
        expect(unlinked.items.map((t) => t.id)).toEqual([two.transfer.id, none.transfer.id])
        const second = yield* transfers.pending({ page: 2, limit: 1 })
        expect(second.items.map((t) => t.id)).toEqual([none.transfer.id])
        expect(second).toMatchObject({ page: 2, limit: 1, total: pending.total })
        expect((yield* Effect.flip(transfers.pending({ limit: 0 })))._tag).toBe("ValidationError")
      }))

    it.effect("a repeated delivery (same id, even with another content or amount) returns the first transfer with duplicate: true and changes nothing", () =>
      Effect.gen(function*() {
        const customer = yield* newCustomer()
        const other = yield* newCustomer()
        const id = freshSepayId()
        const first = yield* deliver(sepayBody({ id, content: `CK ${customer.phone}`, amount: 50_000 }))
        const before = yield* rowCounts
        const mark = yield* outboxEnd
        const bodies = [
          sepayBody({ id, content: `CK ${customer.phone}`, amount: 50_000 }),
          sepayBody({ id: String(id), content: `CK ${other.phone}`, amount: 999_000 }),
          sepayBody({ id, content: "no phone here", amount: 1, transferType: "out" })
        ]
        for (const body of bodies) {
          const again = yield* deliver(body)
          expect(again.duplicate).toBe(true)
          expect(again.transfer).toEqual(first.transfer)
        }
        expect(yield* rowCounts).toEqual(before)
        expect(yield* eventsSince(mark)).toEqual([])
        expect(yield* transferRowsOf(id)).toBe(1)
        expect(yield* entriesOf(`sepay:${id}`)).toHaveLength(1)
        expect(yield* balanceOf(customer.phone)).toBe(50_000)
        expect(yield* balanceOf(other.phone)).toBe(0)
        // a pending one too
        const pid = freshSepayId()
        const pending = yield* deliver(sepayBody({ id: pid, content: "KHONG CO GI" }))
        const replay = yield* deliver(sepayBody({ id: pid, content: `CK ${other.phone}` }))
        expect(replay).toEqual({ transfer: pending.transfer, duplicate: true })
        expect(yield* balanceOf(other.phone)).toBe(0)
        expect(yield* clean).toEqual([])
      }))

    it.effect("an outgoing transfer is recorded (status out), never deposited, listed in unlinked; link refuses autoDeposit: true and links it with autoDeposit: false", () =>
      Effect.gen(function*() {
        const transfers = yield* Transfers
        const customer = yield* newCustomer()
        const before = yield* rowCounts
        const { transfer } = yield* deliver(sepayBody({
          content: `HOAN TIEN ${mangledCode(customer.paymentCode)} ${customer.phone}`,
          transferType: "out",
          amount: 40_000,
          transactionDate: "2099-02-01 09:00:00"
        }))
        expect(transfer).toMatchObject({ status: "out", transferType: "out", customerId: null, depositTransactionId: null })
        expect(transfer.match).toMatchObject({ by: null, reason: "out", candidates: [] })
        expect(yield* rowCounts).toMatchObject({ transfers: before.transfers + 1, ledger: before.ledger })
        expect((yield* transfers.unlinked({ limit: 1 })).items.map((t) => t.id)).toEqual([transfer.id])
        expect((yield* transfers.pending({ limit: 100 })).items.map((t) => t.id)).not.toContain(transfer.id)
        // resolve is for pending transfers
        const notPending = yield* Effect.flip(transfers.resolve(transfer.id, { customerId: customer.id }))
        expect(notPending._tag).toBe("ValidationError")
        const refused = yield* Effect.flip(transfers.link({ transactionId: transfer.id, phone: customer.phone, autoDeposit: true }))
        expect(refused).toMatchObject({ _tag: "ValidationError" })
        expect(JSON.stringify(refused)).toContain("autoDeposit")
        expect(yield* transfers.get(transfer.id)).toEqual(transfer)
        const linked = yield* transfers.link({ transactionId: transfer.id, phone: customer.phone, autoDeposit: false }, { actor: "staff:lan" })
        expect(linked.deposit).toBeNull()
        expect(linked.transfer).toMatchObject({
          status: "out",
          customerId: customer.id,
          depositTransactionId: null,
          linkedBy: "staff:lan",
          version: transfer.version + 1,
          match: { by: "staff" }
        })
        expect(yield* transfers.get(transfer.id)).toEqual(linked.transfer)
        expect(yield* balanceOf(customer.phone)).toBe(0)
        expect((yield* rowCounts).ledger).toBe(before.ledger)
        expect((yield* transfers.unlinked({ limit: 100 })).items.map((t) => t.id)).not.toContain(transfer.id)
        const again = yield* Effect.flip(transfers.link({ transactionId: transfer.id, phone: customer.phone, autoDeposit: false }))
        expect(again).toMatchObject({ _tag: "TransferAlreadyLinked", id: transfer.id, customerId: customer.id })
      }))

    it.effect("a wrong key, a missing header, a header without the Apikey scheme and an unconfigured key are WebhookUnauthorized and store nothing", () =>
      Effect.gen(function*() {
        const customer = yield* newCustomer()
        const before = yield* rowCounts
        const id = freshSepayId()
        const body = sepayBody({ id, content: `CK ${customer.phone}` })
        for (const header of [`Apikey ${SEPAY_KEY}x`, `Apikey ${SEPAY_KEY.slice(0, -1)}`, undefined, "", SEPAY_KEY, `Bearer ${SEPAY_KEY}`, "Apikey", `Apikey  `]) {
          const e = yield* Effect.either(deliver(body, header))
          expect(Either.isLeft(e) && e.left._tag, String(header)).toBe("WebhookUnauthorized")
        }
        // even a bad body is refused for its key first
        expect((yield* Effect.flip(deliver({ nonsense: true }, "Apikey wrong")))._tag).toBe("WebhookUnauthorized")
        const bare = yield* unconfigured
        for (const header of [AUTHORIZATION, "Apikey ", undefined]) {
          const e = yield* Effect.either(bare.receiveSepay(body, header))
          expect(Either.isLeft(e) && e.left._tag, `unconfigured, ${header}`).toBe("WebhookUnauthorized")
        }
        expect(yield* rowCounts).toEqual(before)
        expect(yield* transferRowsOf(id)).toBe(0)
        expect(yield* balanceOf(customer.phone)).toBe(0)
        // the right key is taken, whatever the case of the scheme
        expect((yield* deliver(body, `apikey ${SEPAY_KEY}`)).transfer.customerId).toBe(customer.id)
        expect(yield* clean).toEqual([])
      }))

    it.effect("a malformed payload is a ValidationError naming the field and stores nothing; transactionDate is read in the business time zone", () =>
      Effect.gen(function*() {
        const customer = yield* newCustomer()
        const good = sepayBody({ content: `CK ${customer.phone}` })
        const { id: _id, ...withoutId } = good
        const cases: ReadonlyArray<readonly [string, unknown]> = [
          ["id", withoutId],
          ["id", { ...good, id: "has spaces" }],
          ["id", { ...good, id: -3 }],
          ["transferAmount", { ...good, transferAmount: -150_000 }],
          ["transferAmount", { ...good, transferAmount: 0 }],
          ["transferAmount", { ...good, transferAmount: 1.5 }],
          ["transferAmount", { ...good, transferAmount: "150000" }],
          ["transactionDate", { ...good, transactionDate: "2026-02-30 10:00:00" }],
          ["transactionDate", { ...good, transactionDate: "2026-03-01 24:00:00" }],
          ["transactionDate", { ...good, transactionDate: "01/03/2026 10:00" }],
          ["transferType", { ...good, transferType: "IN" }],
          ["transferType", { ...good, transferType: "refund" }],
          ["content", { ...good, content: undefined }],
          ["", null],
          ["", "a string"]
        ]
        const before = yield* rowCounts
        for (const [field, body] of cases) {
          const e = yield* Effect.flip(deliver(body))
          expect(e._tag, JSON.stringify(body)).toBe("ValidationError")
          if (e._tag !== "ValidationError") continue
          if (field !== "") expect(e.issues.map((i) => i.path), JSON.stringify(body)).toContain(field)
        }
        expect(yield* rowCounts).toEqual(before)
        expect(yield* balanceOf(customer.phone)).toBe(0)
        // local time of the bank, in Asia/Ho_Chi_Minh (UTC+7)
        const { transfer } = yield* deliver({ ...good, transactionDate: "2026-12-01 07:00:00" })
        expect(transfer.transactionDate.toISOString()).toBe("2026-12-01T00:00:00.000Z")
        const t2 = yield* deliver(sepayBody({ content: "x", transactionDate: "2026-12-31T23:30" }))
        expect(t2.transfer.transactionDate.toISOString()).toBe("2026-12-31T16:30:00.000Z")
        expect(yield* clean).toEqual([])
      }))

    it.effect("staff resolve a pending transfer by customerId or phone: linked and deposited once (autoDeposit default true, false links only); again TransferAlreadyLinked", () =>
      Effect.gen(function*() {
        const transfers = yield* Transfers
        const customers = yield* Customers
        const a = yield* newCustomer()
        const b = yield* newCustomer()
        const ambiguous = () => sepayBody({ content: `CK ${a.phone} HOAC ${b.phone}`, amount: 70_000 })
        // by customerId, default autoDeposit
        const p1 = (yield* deliver(ambiguous())).transfer
        expect(p1.status).toBe("pending")
        const mark = yield* outboxEnd
        const r1 = yield* transfers.resolve(p1.id, { customerId: b.id }, { actor: "staff:minh" })
        expect(r1.deposit).not.toBeNull()
        expect(r1.transfer).toMatchObject({
          status: "linked",
          customerId: b.id,
          depositTransactionId: r1.deposit!.transactionId,
          linkedBy: "staff:minh",
          version: p1.version + 1,
          match: { by: "staff", reason: "several_phones", candidates: p1.match.candidates }
        })
        expect(r1.transfer.match.explanation).toContain("staff:minh")
        expect(yield* transfers.get(p1.id)).toEqual(r1.transfer)
        expect(yield* balanceOf(b.phone)).toBe(70_000)
        expect(yield* balanceOf(a.phone)).toBe(0)
        const events = yield* eventsSince(mark)
        expect(events.map((e) => [e.channel, e.type])).toEqual([
          ["wallets", "wallet.deposit"],
          ["transfers", "transfer.linked"]
        ])
        const activity = yield* Effect.flatMap(Notes, (n) => n.activities(b.phone, { kinds: ["transfer.linked"] }))
        expect(activity.items.map((x) => [x.actor, x.subjectId])).toEqual([["staff:minh", p1.id]])
        // again: by the same customer, another, or by phone — never a second deposit
        for (const input of [{ customerId: b.id }, { customerId: a.id }, { phone: a.phone }, { phone: b.phone, autoDeposit: false }]) {
          const e = yield* Effect.flip(transfers.resolve(p1.id, input))
          expect(e).toMatchObject({ _tag: "TransferAlreadyLinked", id: p1.id, customerId: b.id })
        }
        const e = yield* Effect.flip(transfers.link({ transactionId: p1.id, phone: a.phone }))
        expect(e._tag).toBe("TransferAlreadyLinked")
        expect(yield* entriesOf(`sepay:${p1.providerId}`)).toHaveLength(1)
        // by phone (a new one: created), autoDeposit true
        const p2 = (yield* deliver(ambiguous())).transfer
        const newPhone = freshPhone()
        const r2 = yield* transfers.resolve(p2.id, { phone: `+84 ${newPhone.slice(1)}`, autoDeposit: true })
        const created = Option.getOrThrow(yield* customers.findByPhone(newPhone))
        expect(created.source).toBe("bank_transfer")
        expect(r2.transfer).toMatchObject({ status: "linked", customerId: created.id, linkedBy: "system" })
        expect(yield* balanceOf(newPhone)).toBe(70_000)
        // autoDeposit: false links only
        const p3 = (yield* deliver(ambiguous())).transfer
        const before = yield* rowCounts
        const r3 = yield* transfers.resolve(p3.id, { phone: a.phone, autoDeposit: false })
        expect(r3.deposit).toBeNull()
        expect(r3.transfer).toMatchObject({ status: "linked", customerId: a.id, depositTransactionId: null })
        expect(yield* balanceOf(a.phone)).toBe(0)
        expect((yield* rowCounts).ledger).toBe(before.ledger)
        expect((yield* Effect.flip(transfers.resolve(p3.id, { customerId: a.id })))._tag).toBe("TransferAlreadyLinked")
        // link an unlinked (pending) one by phone
        const p4 = (yield* deliver(ambiguous())).transfer
        const r4 = yield* transfers.link({ transactionId: p4.id, phone: a.phone, autoDeposit: true }, { actor: "staff:lan" })
        expect(r4.transfer).toMatchObject({ status: "linked", customerId: a.id, linkedBy: "staff:lan" })
        expect(yield* balanceOf(a.phone)).toBe(70_000)
        expect(yield* clean).toEqual([])
      }))

    it.effect("resolve refuses: a matched transfer (TransferAlreadyLinked), an unknown id (TransferNotFound), both or neither of phone and customerId, bad input (ValidationError, InvalidPhone, CustomerNotFound), writing nothing", () =>
      Effect.gen(function*() {
        const transfers = yield* Transfers
        const a = yield* newCustomer()
        const matched = (yield* deliver(sepayBody({ content: `CK ${a.phone}` }))).transfer
        const pending = (yield* deliver(sepayBody({ content: "KHONG RO" }))).transfer
        const before = yield* rowCounts
        expect(yield* Effect.flip(transfers.resolve(matched.id, { customerId: a.id }))).toMatchObject({
          _tag: "TransferAlreadyLinked",
          customerId: a.id
        })
        expect(yield* Effect.flip(transfers.resolve("trf_unknown", { customerId: a.id }))).toMatchObject({
          _tag: "TransferNotFound",
          id: "trf_unknown"
        })
        expect((yield* Effect.flip(transfers.get("trf_unknown")))._tag).toBe("TransferNotFound")
        expect((yield* Effect.flip(transfers.link({ transactionId: "trf_unknown", phone: a.phone })))._tag).toBe("TransferNotFound")
        expect((yield* Effect.flip(transfers.resolve(pending.id, { customerId: a.id, phone: a.phone })))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(transfers.resolve(pending.id, {})))._tag).toBe("ValidationError")
        expect((yield* Effect.flip(transfers.resolve(pending.id, { phone: a.phone, autoDeposit: "yes" as unknown as boolean })))._tag)
          .toBe("ValidationError")
        expect((yield* Effect.flip(transfers.resolve(pending.id, { phone: "12345" })))._tag).toBe("InvalidPhone")
        expect((yield* Effect.flip(transfers.resolve(pending.id, { customerId: makeCustomerId(0, new Uint8Array(10)) })))._tag).toBe("CustomerNotFound")
        expect((yield* Effect.flip(transfers.resolve(pending.id, { phone: a.phone }, { actor: "" })))._tag).toBe("ValidationError")
        expect(yield* rowCounts).toEqual(before)
        expect(yield* transfers.get(pending.id)).toEqual(pending)
        expect(yield* clean).toEqual([])
      }))

    it.effect("qr(phone) gives the customer's code and a VietQR payload with the shop's BIN and account and the code as content; without bank configuration the payload is null", () =>
      Effect.gen(function*() {
        const transfers = yield* Transfers
        const customer = yield* newCustomer()
        const qr = yield* transfers.qr(`+84 ${customer.phone.slice(1)}`)
        expect(qr.code).toBe(customer.paymentCode)
        expect(qr.payload).not.toBeNull()
        const parsed = Either.getOrThrow(parseVietQr(qr.payload!))
        expect(parsed).toMatchObject({ bankBin: BANK_BIN, accountNumber: BANK_ACCOUNT, content: customer.paymentCode })
        expect(parsed.amount).toBeUndefined()
        const withAmount = yield* transfers.qr(customer.phone, { amount: 250_000 })
        expect(Either.getOrThrow(parseVietQr(withAmount.payload!))).toMatchObject({ amount: 250_000, content: customer.paymentCode })
        expect((yield* Effect.flip(transfers.qr(freshPhone())))._tag).toBe("CustomerNotFound")
        expect((yield* Effect.flip(transfers.qr(customer.phone, { amount: -1 })))._tag).toBe("ValidationError")
        const bare = yield* unconfigured
        expect(yield* bare.qr(customer.phone)).toEqual({ code: customer.paymentCode, payload: null })
        // and the code the QR carries comes back as a match
        const { transfer } = yield* deliver(sepayBody({ content: `${parsed.content} Ma GD ACSP/ 4I029341` }))
        expect(transfer).toMatchObject({ customerId: customer.id, match: { by: "code" } })
        expect(yield* clean).toEqual([])
      }))

    it.effect("the 360 view has the customer's linked transfers, newest first", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const transfers = yield* Transfers
        const customer = yield* newCustomer()
        const t1 = (yield* deliver(sepayBody({ content: `CK ${customer.phone}`, transactionDate: "2026-04-01 08:00:00" }))).transfer
        const t2 = (yield* deliver(sepayBody({ content: mangledCode(customer.paymentCode), transactionDate: "2026-04-02 08:00:00" }))).transfer
        const pending = (yield* deliver(sepayBody({ content: "KHONG RO", transactionDate: "2026-04-03 08:00:00" }))).transfer
        const view0 = yield* customers.view360(customer.phone)
        expect(view0.transfers.map((t: BankTransfer) => t.id)).toEqual([t2.id, t1.id])
        const linked = yield* transfers.resolve(pending.id, { phone: customer.phone, autoDeposit: false })
        const view = yield* customers.view360(customer.phone)
        expect(view.transfers).toEqual([linked.transfer, t2, t1])
        expect(yield* transfers.forCustomer(customer.id, { before: null, limit: 1 })).toEqual([linked.transfer])
        expect(yield* balanceOf(customer.phone)).toBe(300_000)
        expect(yield* clean).toEqual([])
      }))

    it.effect("model-based: random deliveries (new and repeated ids; code, phone, ambiguous, empty and outgoing contents), resolutions and links agree with a model of transfers by id and wallet balances", () =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Transfers | Wallets | Customers | SqlClient.SqlClient>()
        const run = Runtime.runPromise(runtime)
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.commands(commands, { maxCommands: 10 }), async (cmds) => {
              const customers = await run(Effect.all([newCustomer("Model A"), newCustomer("Model B")]))
              const setup = () => ({
                model: { transfers: new Map<string, ModelTransfer>(), order: [], balances: [0, 0] },
                real: { run, customers }
              })
              await fc.asyncModelRun(setup, cmds)
              expect((await run(auditLedger)).violations).toEqual([])
            }),
            { numRuns: options.modelRuns ?? 10 }
          )
        )
      }), { timeout: 120_000 })
  })

// --- the reference model -------------------------------------------------------------------------

type Kind = "code" | "phone" | "ambiguous" | "none" | "out"

interface ModelTransfer {
  readonly providerId: string
  readonly transferId: string
  readonly kind: Kind
  readonly amount: number
  status: BankTransfer["status"]
  customer: number | null
  deposited: boolean
  version: number
}
interface Model {
  readonly transfers: Map<string, ModelTransfer>
  readonly order: Array<string>
  readonly balances: Array<number>
}
interface Real {
  readonly run: <A, E>(effect: Effect.Effect<A, E, Transfers | Wallets | Customers | SqlClient.SqlClient>) => Promise<A>
  readonly customers: ReadonlyArray<Customer & { readonly phone: string }>
}

const contentOf = (r: Real, kind: Kind, who: number, variant: number): string => {
  const c = r.customers[who]!
  switch (kind) {
    case "code":
      return `MBVCB.${3278907687 + variant}.${mangledCode(c.paymentCode)}chuyen tien`
    case "phone":
      return `CK SDT ${phoneFormats[variant % phoneFormats.length]!(c.phone)} mua hang`
    case "ambiguous":
      return `CK ${r.customers[0]!.phone} VA ${r.customers[1]!.phone}`
    case "none":
      return `THANH TOAN FT25308710${variant}`
    case "out":
      return `HOAN TIEN ${c.phone}`
  }
}

const STATUS_OF: Record<Kind, BankTransfer["status"]> = {
  code: "matched",
  phone: "matched",
  ambiguous: "pending",
  none: "pending",
  out: "out"
}

const attempt = <A>(r: Real, f: (t: TransfersShape) => Effect.Effect<A, { readonly _tag: string }>) =>
  r.run(Effect.either(Effect.flatMap(Transfers, f)))

/** The stored transfer, its deposit, and both wallets must show what the model holds. */
const agree = async (m: Model, r: Real, t: ModelTransfer) => {
  const stored = await r.run(Effect.flatMap(Transfers, (s) => s.get(t.transferId)))
  expect({
    status: stored.status,
    customerId: stored.customerId,
    deposited: stored.depositTransactionId !== null,
    version: stored.version,
    amount: stored.amount
  }).toEqual({
    status: t.status,
    customerId: t.customer === null ? null : r.customers[t.customer]!.id,
    deposited: t.deposited,
    version: t.version,
    amount: t.amount
  })
  expect(await r.run(entriesOf(`sepay:${t.providerId}`))).toHaveLength(t.deposited ? 1 : 0)
  expect(await r.run(transferRowsOf(t.providerId))).toBe(1)
  for (const [i, c] of r.customers.entries()) {
    expect(await r.run(balanceOf(c.phone)), `balance of customer ${i}`).toBe(m.balances[i])
  }
}

const pick = (m: Readonly<Model>, i: number) => m.transfers.get(m.order[i % m.order.length]!)!

class Deliver implements fc.AsyncCommand<Model, Real> {
  constructor(readonly kind: Kind, readonly who: number, readonly amount: number, readonly variant: number) {}
  check = () => true
  async run(m: Model, r: Real) {
    const providerId = String(freshSepayId())
    const body = sepayBody({ id: providerId, content: contentOf(r, this.kind, this.who, this.variant), amount: this.amount, transferType: this.kind === "out" ? "out" : "in" })
    const { duplicate, transfer } = await r.run(deliver(body))
    expect(duplicate).toBe(false)
    const matched = this.kind === "code" || this.kind === "phone"
    const t: ModelTransfer = {
      providerId,
      transferId: transfer.id,
      kind: this.kind,
      amount: this.amount,
      status: STATUS_OF[this.kind],
      customer: matched ? this.who : null,
      deposited: matched,
      version: 0
    }
    if (matched) m.balances[this.who]! += this.amount
    expect(transfer.match.by).toBe(matched ? this.kind : null)
    m.transfers.set(providerId, t)
    m.order.push(providerId)
    await agree(m, r, t)
  }
  toString = () => `deliver(${this.kind}, ${this.who}, ${this.amount})`
}

class Redeliver implements fc.AsyncCommand<Model, Real> {
  constructor(readonly index: number, readonly kind: Kind, readonly who: number, readonly amount: number) {}
  check = (m: Readonly<Model>) => m.order.length > 0
  async run(m: Model, r: Real) {
    const t = pick(m, this.index)
    const first = await r.run(Effect.flatMap(Transfers, (s) => s.get(t.transferId)))
    const body = sepayBody({ id: t.providerId, content: contentOf(r, this.kind, this.who, 0), amount: this.amount, transferType: this.kind === "out" ? "out" : "in" })
    const again = await r.run(deliver(body))
    expect(again).toEqual({ transfer: first, duplicate: true })
    await agree(m, r, t)
  }
  toString = () => `redeliver(#${this.index}, ${this.kind}, ${this.amount})`
}

class StaffLink implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly how: "resolveById" | "resolveByPhone" | "link",
    readonly index: number,
    readonly who: number,
    readonly autoDeposit: boolean | undefined
  ) {}
  check = (m: Readonly<Model>) => m.order.length > 0
  async run(m: Model, r: Real) {
    const t = pick(m, this.index)
    const c = r.customers[this.who]!
    const autoDeposit = this.autoDeposit
    const result = await attempt(r, (s) =>
      this.how === "link"
        ? s.link({ transactionId: t.transferId, phone: c.phone, autoDeposit })
        : s.resolve(t.transferId, this.how === "resolveById" ? { customerId: c.id, autoDeposit } : { phone: c.phone, autoDeposit }))
    const expected = t.customer !== null
      ? "TransferAlreadyLinked"
      : this.how !== "link" && t.status !== "pending"
      ? "ValidationError"
      : t.kind === "out" && autoDeposit === true
      ? "ValidationError"
      : "linked"
    if (expected === "linked") {
      expect(Either.isRight(result), String(Either.isLeft(result) && result.left._tag)).toBe(true)
      const deposit = t.kind !== "out" && autoDeposit !== false
      t.customer = this.who
      t.deposited = deposit
      t.version += 1
      if (t.status === "pending") t.status = "linked"
      if (deposit) m.balances[this.who]! += t.amount
      const linked = Either.getOrThrow(result)
      expect(linked.deposit === null).toBe(!deposit)
    } else {
      expect(Either.isLeft(result) && result.left._tag).toBe(expected)
    }
    await agree(m, r, t)
  }
  toString = () => `${this.how}(#${this.index}, ${this.who}, ${this.autoDeposit})`
}

const kind = fc.constantFrom<Kind>("code", "phone", "ambiguous", "none", "out")
const who = fc.integer({ min: 0, max: 1 })
const amount = fc.integer({ min: 1, max: 50 }).map((n) => n * 1_000)
const commands = [
  fc.tuple(kind, who, amount, fc.nat({ max: 20 })).map(([k, w, a, v]) => new Deliver(k, w, a, v)),
  fc.tuple(fc.nat({ max: 20 }), kind, who, amount).map(([i, k, w, a]) => new Redeliver(i, k, w, a)),
  fc.tuple(
    fc.constantFrom("resolveById" as const, "resolveByPhone" as const, "link" as const),
    fc.nat({ max: 20 }),
    who,
    fc.constantFrom(true, false, undefined)
  ).map(([h, i, w, d]) => new StaffLink(h, i, w, d))
]
