/**
 * The bank-transfer use cases of DOMAIN §5: receive SePay's webhook (authenticated by its API key,
 * idempotent by SePay's id), match an incoming transfer to a customer — by a payment code in its
 * content, else by exactly one phone number in it — and link and deposit it, in one unit of work;
 * otherwise keep it pending with its candidates for staff, who resolve it or link it by phone. A
 * transfer is linked and deposited at most once, whatever the retries or the concurrency; every
 * transfer says why it matched or why not. And the VietQR a customer scans to pay with their code.
 *
 * The rules, in full: docs/transfers.md.
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type Customer, type CustomerNotFound, Customers } from "../customers/index.js"
import { Customer360Config } from "../kernel/Config.js"
import type { Position } from "../kernel/Cursor.js"
import { type StorageError, ValidationError } from "../kernel/Errors.js"
import type { DomainEvent } from "../kernel/Events.js"
import { encodeId } from "../kernel/Ids.js"
import { decoder } from "../kernel/Input.js"
import type { InvalidAmount } from "../kernel/Money.js"
import type * as Phone from "../kernel/Phone.js"
import { randomBytes } from "../kernel/Random.js"
import { constantTimeEqual } from "../kernel/Secrets.js"
import { withSpans } from "../kernel/Spans.js"
import { Text } from "../kernel/Text.js"
import { ActivityLog, SYSTEM_ACTOR } from "../platform/ActivityLog.js"
import { EventPublisher } from "../platform/EventPublisher.js"
import { Transactions } from "../platform/Transactions.js"
import { type DepositResult, type IdempotencyConflict, Wallets } from "../wallets/index.js"
import { decide, explain, type MatcherConfig, scan } from "./Matcher.js"
import {
  BankTransfer,
  localTimeToInstant,
  type Match,
  parseSepay,
  providerIdOf,
  TransferAlreadyLinked,
  TransferNotFound,
  transferToJson,
  WebhookUnauthorized
} from "./Transfer.js"
import { type TransferList, TransferRepository } from "./TransferRepository.js"
import { vietQr as buildVietQr, type VietQrError, type VietQrInput } from "./VietQr.js"

/** Who receives transfers by webhook: the matcher's actor in activity records. @since 0.2.0 */
export const MATCHER_ACTOR = "system:sepay"

/** What a delivery did: the transfer, and whether it had been received before (nothing changed). @since 0.2.0 */
export interface Received {
  readonly transfer: BankTransfer
  readonly duplicate: boolean
}

/** What a link did: the transfer as linked, and its deposit when one was made. @since 0.2.0 */
export interface Linked {
  readonly transfer: BankTransfer
  readonly deposit: DepositResult | null
}

/** A page of transfers, newest first. @since 0.2.0 */
export interface TransferPage {
  readonly items: ReadonlyArray<BankTransfer>
  readonly total: number
  readonly page: number
  readonly limit: number
}

type InputError = Phone.InvalidPhone | ValidationError | StorageError
type LinkError = TransferNotFound | TransferAlreadyLinked | CustomerNotFound | InvalidAmount | IdempotencyConflict | InputError

/**
 * The transfers service. Inputs are `unknown` and validated; a refusal writes nothing.
 *
 * @since 0.2.0
 */
export interface TransfersShape {
  /**
   * A SePay webhook delivery: `authorization` is the request's `Authorization` header, which must be
   * `Apikey <the configured key>` (else `WebhookUnauthorized`, nothing stored). Idempotent by SePay's
   * `id`: a repeated delivery returns the first result with `duplicate: true`.
   */
  readonly receiveSepay: (body: unknown, authorization: string | undefined) => Effect.Effect<
    Received,
    WebhookUnauthorized | CustomerNotFound | InvalidAmount | IdempotencyConflict | InputError
  >
  /** Transfers not linked to a customer (pending incoming ones and outgoing ones), newest first. */
  readonly unlinked: (options?: { readonly page?: number; readonly limit?: number }) => Effect.Effect<TransferPage, InputError>
  /** Incoming transfers waiting for staff, with their candidates, newest first. */
  readonly pending: (options?: { readonly page?: number; readonly limit?: number }) => Effect.Effect<TransferPage, InputError>
  readonly get: (id: string) => Effect.Effect<BankTransfer, TransferNotFound | InputError>
  /**
   * Links an unlinked transfer to the phone's customer (created, source `bank_transfer`, if new) and,
   * with `autoDeposit` (default true; never for an outgoing transfer), deposits its amount.
   */
  readonly link: (
    input: { readonly transactionId: string; readonly phone: string; readonly autoDeposit?: boolean | undefined },
    options?: { readonly actor?: string | undefined }
  ) => Effect.Effect<Linked, LinkError>
  /** Resolves a pending transfer to a customer — by `customerId` (a candidate) or `phone` — like `link`. */
  readonly resolve: (
    id: string,
    input: {
      readonly phone?: string | undefined
      readonly customerId?: string | undefined
      readonly autoDeposit?: boolean | undefined
    },
    options?: { readonly actor?: string | undefined }
  ) => Effect.Effect<Linked, LinkError>
  /** The customer's payment code and the VietQR payload that pays the shop's account with it (`null` unconfigured). */
  readonly qr: (
    phone: string,
    options?: { readonly amount?: number | undefined }
  ) => Effect.Effect<{ readonly code: string; readonly payload: string | null }, CustomerNotFound | VietQrError | InputError>
  /** A VietQR payload (EMVCo, NAPAS) for any account, amount and content. */
  readonly vietQr: (input: VietQrInput) => Effect.Effect<string, VietQrError>
  /** The customer's transfers, newest first (for the timeline and the 360 view). */
  readonly forCustomer: (
    customerId: string,
    slice: { readonly before: Position | null; readonly limit: number }
  ) => Effect.Effect<ReadonlyArray<BankTransfer>, StorageError>
}

/** The Transfers service. @since 0.2.0 */
export class Transfers extends Context.Tag("customer360/Transfers")<Transfers, TransfersShape>() {}

const decodePage = decoder(
  Schema.Struct({
    page: Schema.optional(Schema.Int.pipe(Schema.between(1, 1_000_000))),
    limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 100)))
  }),
  "page"
)
const decodeLink = decoder(
  Schema.Struct({ transactionId: Text(100), phone: Schema.String, autoDeposit: Schema.optional(Schema.Boolean) }),
  "link"
)
const decodeResolve = decoder(
  Schema.Struct({
    phone: Schema.optional(Schema.String),
    customerId: Schema.optional(Text(100)),
    autoDeposit: Schema.optional(Schema.Boolean)
  }),
  "resolution"
)
const decodeActor = decoder(Schema.UndefinedOr(Text(100)), "actor")
const decodeId = decoder(Text(100), "transfer id")
const decodeQrOptions = decoder(
  Schema.Struct({ amount: Schema.optional(Schema.Int.pipe(Schema.between(1, 9_999_999_999_999))) }),
  "QR options"
)

const APIKEY = /^Apikey\s+(\S+)\s*$/i

/** @since 0.2.0 */
export const make = Effect.gen(function*() {
  const repo = yield* TransferRepository
  const customers = yield* Customers
  const wallets = yield* Wallets
  const tx = yield* Transactions
  const events = yield* EventPublisher
  const activities = yield* ActivityLog
  const config = yield* Customer360Config

  const matcher: MatcherConfig = {
    shopPhones: config.transfers.shopPhones,
    shopAccounts: config.transfers.shopAccounts,
    phone: config.phone
  }

  const event = (type: "transfer.received" | "transfer.linked", t: BankTransfer, at: Date, deposit: string | null): DomainEvent =>
    ({
      id: encodeId("evt", at.getTime(), randomBytes(10)),
      type,
      channel: "transfers",
      subject: t.customerId ?? t.id,
      occurredAt: at,
      data: type === "transfer.linked"
        ? { transfer: transferToJson(t), depositTransactionId: deposit }
        : { transfer: transferToJson(t) }
    }) as DomainEvent

  /** The deposit of an incoming transfer: reference `sepay:<id>`, so at most once, ever. */
  const depositOf = (t: BankTransfer, customer: Customer) =>
    wallets.deposit({
      phone: customer.phone ?? "",
      amount: t.amount,
      reference: `${t.provider}:${t.providerId}`,
      source: "bank_transfer",
      note: `${t.provider} ${t.gateway}`.slice(0, 500)
    })

  /** Links the transfer (new or read) to the customer, deposits if asked, with its events and activity. */
  const linkTo = (
    t: BankTransfer,
    customer: Customer,
    how: { readonly by: "code" | "phone" | "staff"; readonly actor: string; readonly deposit: boolean; readonly isNew: boolean },
    at: Date
  ) =>
    Effect.gen(function*() {
      const deposit = how.deposit ? yield* depositOf(t, customer) : null
      const match: Match = how.by === "staff"
        ? {
          by: "staff",
          reason: t.match.reason,
          candidates: t.match.candidates,
          explanation: `linked by ${how.actor}${t.status === "pending" ? ` (the matcher said: ${t.match.explanation})` : ""}`
        }
        : t.match
      const linked = new BankTransfer({
        ...t,
        status: t.transferType === "out" ? "out" : how.by === "staff" ? "linked" : "matched",
        customerId: customer.id,
        match,
        depositTransactionId: deposit?.transactionId ?? null,
        linkedAt: at,
        linkedBy: how.actor,
        version: how.isNew ? t.version : t.version + 1
      }, true)
      yield* (how.isNew ? repo.insert(linked) : repo.update(linked))
      yield* events.publish([
        ...(how.isNew ? [event("transfer.received", linked, at, null)] : []),
        event("transfer.linked", linked, at, deposit?.transactionId ?? null)
      ])
      yield* activities.record([{
        customerId: customer.id,
        actor: how.actor,
        kind: "transfer.linked",
        subjectType: "transfer",
        subjectId: linked.id,
        summary: `linked the bank transfer ${linked.providerId} of ${linked.amount} đồng` +
          (deposit === null ? " (no deposit)" : " and deposited it") + ` — ${match.explanation}`,
        data: { providerId: linked.providerId, amount: linked.amount, by: match.by },
        at
      }])
      return { transfer: linked, deposit }
    })

  const receiveSepay: TransfersShape["receiveSepay"] = (body, authorization) => {
    // Attempts of this delivery, across reruns — also those of a caller's transaction it joined.
    let attempts = 0
    return Effect.gen(function*() {
      const key = config.transfers.sepayApiKey
      const given = typeof authorization === "string" ? APIKEY.exec(authorization)?.[1] : undefined
      // compared whatever was given, so that a missing key costs as long as a wrong one
      const ok = constantTimeEqual(given ?? "", key ?? "")
      if (key === undefined || given === undefined || !ok) return yield* new WebhookUnauthorized()
      const payload = yield* parseSepay(body)
      const transactionDate = localTimeToInstant(payload.transactionDate, config.timeZone)
      if (transactionDate === undefined) {
        return yield* ValidationError.single("transactionDate", "must be a real local time, YYYY-MM-DD HH:mm:ss")
      }
      const providerId = providerIdOf(payload)
      // The first attempt does not look for the id: the unique key decides. A repeated delivery
      // fails on it (its deposit replays the first, writing nothing), runs again, and finds it.
      return yield* tx.withTransaction(Effect.gen(function*() {
        if (attempts++ > 0) {
          const first = yield* repo.findByProvider("sepay", providerId)
          if (Option.isSome(first)) return { transfer: first.value, duplicate: true }
        }
        const now = yield* Clock.currentTimeMillis
        const at = new Date(now)
        const base = {
          id: encodeId("trf", now, randomBytes(10)),
          provider: "sepay" as const,
          providerId,
          gateway: payload.gateway,
          accountNumber: payload.accountNumber,
          subAccount: payload.subAccount ?? null,
          providerCode: payload.code ?? null,
          content: payload.content,
          transferType: payload.transferType,
          amount: payload.transferAmount,
          accumulated: payload.accumulated ?? null,
          referenceCode: payload.referenceCode ?? null,
          transactionDate,
          receivedAt: at,
          customerId: null,
          depositTransactionId: null,
          linkedAt: null,
          linkedBy: null,
          raw: body,
          version: 0
        }
        if (payload.transferType === "out") {
          const out = new BankTransfer({
            ...base,
            status: "out",
            match: { by: null, reason: "out", candidates: [], explanation: "money that left the account: never deposited" }
          }, true)
          yield* repo.insert(out)
          yield* events.publish([event("transfer.received", out, at, null)])
          return { transfer: out, duplicate: false }
        }
        const scanned = scan(payload.content, matcher)
        const holders = yield* customers.findByPaymentCodes(scanned.codes)
        const held = scanned.codes.flatMap((code) => {
          const c = holders.find((h) => h.paymentCode === code)
          return c === undefined ? [] : [{ code, customerId: c.id }]
        })
        const decision = decide(held, scanned.phones)
        const explanation = explain(decision)
        const customer = decision.by === "code"
          ? holders.find((h) => h.id === decision.customerId)
          : decision.by === "phone"
          ? (yield* customers.getOrCreate({ phone: decision.phone, source: "bank_transfer" })).customer
          : undefined
        if (customer === undefined || customer.phone === null) {
          const pending = new BankTransfer({
            ...base,
            status: "pending",
            match: {
              by: null,
              reason: decision.by === null ? decision.reason : "no_phone",
              candidates: decision.by === null ? decision.candidates : [],
              explanation: decision.by === null ? explanation : `${explanation}, but the customer has no phone yet`
            }
          }, true)
          yield* repo.insert(pending)
          yield* events.publish([event("transfer.received", pending, at, null)])
          return { transfer: pending, duplicate: false }
        }
        const draft = new BankTransfer({
          ...base,
          status: "matched",
          match: { by: decision.by === "code" ? "code" : "phone", reason: decision.by === "code" ? "code" : "phone", candidates: [], explanation }
        }, true)
        const { transfer } = yield* linkTo(draft, customer, { by: draft.match.by as "code" | "phone", actor: MATCHER_ACTOR, deposit: true, isNew: true }, at)
        return { transfer, duplicate: false }
      })).pipe(
        // the same id delivered at once with another content (another customer): the first deposit
        // holds the reference, and its transfer is the answer, as for any repeated delivery
        Effect.catchTag("IdempotencyConflict", (conflict) =>
          conflict.reference !== `sepay:${providerId}`
            ? Effect.fail(conflict)
            : Effect.flatMap(repo.findByProvider("sepay", providerId), (first) =>
              Option.isSome(first)
                ? Effect.succeed<Received>({ transfer: first.value, duplicate: true })
                : Effect.fail(conflict)))
      )
    })
  }

  const page = (which: TransferList) => (raw?: { readonly page?: number; readonly limit?: number }) =>
    Effect.gen(function*() {
      const q = yield* decodePage(raw ?? {})
      const p = q.page ?? 1
      const limit = q.limit ?? 20
      const { items, total } = yield* repo.list(which, { offset: (p - 1) * limit, limit })
      return { items, total, page: p, limit }
    })

  const load = (id: string) =>
    Effect.flatMap(repo.findById(id), Option.match({
      onNone: () => Effect.fail(new TransferNotFound({ id })),
      onSome: Effect.succeed
    }))

  const get: TransfersShape["get"] = (raw) => Effect.flatMap(decodeId(raw), load)

  /** Links a transfer read in this transaction to a customer found by `find`. */
  const staffLink = (
    id: string,
    find: Effect.Effect<Customer, CustomerNotFound | InputError>,
    autoDeposit: boolean | undefined,
    actor: string,
    mustBePending: boolean
  ) =>
    tx.withTransaction(Effect.gen(function*() {
      const t = yield* load(id)
      if (t.customerId !== null) return yield* new TransferAlreadyLinked({ id: t.id, customerId: t.customerId })
      if (mustBePending && t.status !== "pending") {
        return yield* ValidationError.single("id", `the transfer is ${t.status}, not pending`)
      }
      if (t.transferType === "out" && autoDeposit === true) {
        return yield* ValidationError.single("autoDeposit", "an outgoing transfer is never deposited")
      }
      const customer = yield* find
      const at = new Date(yield* Clock.currentTimeMillis)
      return yield* linkTo(t, customer, {
        by: "staff",
        actor,
        deposit: t.transferType === "in" && autoDeposit !== false,
        isNew: false
      }, at)
    })).pipe(Effect.catchTag("IdempotencyConflict", (conflict) => linkedMeanwhile(id, conflict)))

  /**
   * A deposit refused because the transfer's reference (`sepay:<id>`) was recorded with another
   * payload: another staff member linked it to another customer after this transaction read it, and
   * committed before this deposit read the reference. Read again (after the rollback), the transfer
   * says so: `TransferAlreadyLinked`, as when the link is seen first.
   */
  const linkedMeanwhile = (
    id: string,
    conflict: IdempotencyConflict
  ): Effect.Effect<never, TransferAlreadyLinked | IdempotencyConflict | StorageError> =>
    Effect.flatMap(repo.findById(id), (now): Effect.Effect<never, TransferAlreadyLinked | IdempotencyConflict> =>
      Option.isSome(now) && now.value.customerId !== null &&
        conflict.reference === `${now.value.provider}:${now.value.providerId}`
        ? Effect.fail(new TransferAlreadyLinked({ id, customerId: now.value.customerId }))
        : Effect.fail(conflict))

  const link: TransfersShape["link"] = (raw, options) =>
    Effect.gen(function*() {
      const input = yield* decodeLink(raw)
      const actor = (yield* decodeActor(options?.actor)) ?? SYSTEM_ACTOR
      return yield* staffLink(
        input.transactionId,
        Effect.map(customers.getOrCreate({ phone: input.phone, source: "bank_transfer" }), (r) => r.customer),
        input.autoDeposit,
        actor,
        false
      )
    })

  const resolve: TransfersShape["resolve"] = (rawId, raw, options) =>
    Effect.gen(function*() {
      const id = yield* decodeId(rawId)
      const input = yield* decodeResolve(raw)
      const actor = (yield* decodeActor(options?.actor)) ?? SYSTEM_ACTOR
      if ((input.phone === undefined) === (input.customerId === undefined)) {
        return yield* ValidationError.single("phone", "give the phone or the customerId of the customer, not both")
      }
      const find = input.customerId !== undefined
        ? customers.get(input.customerId)
        : Effect.map(customers.getOrCreate({ phone: input.phone!, source: "bank_transfer" }), (r) => r.customer)
      return yield* staffLink(id, find, input.autoDeposit, actor, true)
    })

  const vietQr: TransfersShape["vietQr"] = (input) => Effect.suspend(() => buildVietQr(input))

  const qr: TransfersShape["qr"] = (phone, raw) =>
    Effect.gen(function*() {
      const options = yield* decodeQrOptions(raw ?? {})
      const customer = yield* customers.getByPhone(phone)
      const { bankAccount, bankBin } = config.transfers
      if (bankBin === undefined || bankAccount === undefined) return { code: customer.paymentCode, payload: null }
      const payload = yield* buildVietQr({ bankBin, accountNumber: bankAccount, amount: options.amount, content: customer.paymentCode })
      return { code: customer.paymentCode, payload }
    })

  const forCustomer: TransfersShape["forCustomer"] = (customerId, slice) => repo.forCustomer(customerId, slice)

  return Transfers.of(withSpans("Transfers", {
    receiveSepay,
    unlinked: page("unlinked"),
    pending: page("pending"),
    get,
    link,
    resolve,
    qr,
    vietQr,
    forCustomer
  }))
})

/** @since 0.2.0 */
export const layer: Layer.Layer<
  Transfers,
  never,
  TransferRepository | Customers | Wallets | Transactions | EventPublisher | ActivityLog | Customer360Config
> = Layer.effect(Transfers, make)

