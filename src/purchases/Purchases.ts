/**
 * The purchase use cases of DOMAIN §7 and §7a: record a purchase (idempotent by reference), record
 * a return of it (never more than it, in all), and read a customer's purchases, points and
 * membership. A purchase or return keeps its customer current in the same unit of work: totals,
 * last purchase, points, membership level and discount, and the RFM score and tier (DOMAIN §6), with
 * their events — `customer.purchase_recorded` / `customer.return_recorded`, `customer.level_changed`
 * and `customer.tier_changed` when they change.
 *
 * The rules, in full: docs/purchases.md.
 *
 * @since 0.3.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { type Customer, type CustomerNotFound, Customers, memoKeys } from "../customers/index.js"
import { businessDay } from "../kernel/BusinessDay.js"
import { Customer360Config } from "../kernel/Config.js"
import { type StorageError, ValidationError } from "../kernel/Errors.js"
import type { DomainEvent } from "../kernel/Events.js"
import { encodeId } from "../kernel/Ids.js"
import { decoder } from "../kernel/Input.js"
import { type InvalidAmount, money } from "../kernel/Money.js"
import type * as Phone from "../kernel/Phone.js"
import { randomBytes } from "../kernel/Random.js"
import { withSpans } from "../kernel/Spans.js"
import { EventPublisher } from "../platform/EventPublisher.js"
import { Transactions } from "../platform/Transactions.js"
import { UnitOfWork } from "../platform/UnitOfWork.js"
import { IdempotencyConflict } from "../wallets/index.js"
import {
  CustomerBlacklisted,
  levelFor,
  type Membership,
  membershipOf,
  type PointsEntry,
  pointsFor,
  pointsTakenBack,
  Purchase,
  PurchaseInput,
  PurchaseNotFound,
  PurchaseReturn,
  purchaseToJson,
  ReturnExceedsPurchase,
  ReturnInput
} from "./Purchase.js"
import { type CustomerFigures, type CustomerPurchaseState, PurchaseRepository, type RfmRow } from "./PurchaseRepository.js"
import { type RfmResult, scoreCustomer } from "./Rfm.js"

/** How far ahead of the clock a purchase's `at` may be (clock skew between tills). @since 0.3.0 */
export const MAX_AHEAD_MS = 5 * 60_000

/** A change of a customer's level or tier. @since 0.3.0 */
export interface Change {
  readonly from: string
  readonly to: string
}

/**
 * What `record` did: the purchase, the customer after it, and what changed. `repeated`: the
 * reference was already recorded with the same payload; this is the first result as stored now,
 * and nothing was written.
 *
 * @since 0.3.0
 */
export interface PurchaseResult {
  readonly purchase: Purchase
  readonly customer: Customer
  readonly repeated: boolean
  readonly levelChanged: Change | null
  readonly tierChanged: Change | null
}

/** What `recordReturn` did (see {@link PurchaseResult}). @since 0.3.0 */
export interface ReturnResult {
  readonly return: PurchaseReturn
  readonly purchase: Purchase
  readonly customer: Customer
  readonly repeated: boolean
  readonly levelChanged: Change | null
  readonly tierChanged: Change | null
}

/** A purchase and its returns, oldest first. @since 0.3.0 */
export interface PurchaseDetails {
  readonly purchase: Purchase
  readonly returns: ReadonlyArray<PurchaseReturn>
}

/** A page of a customer's purchases, newest first. @since 0.3.0 */
export interface PurchasePage {
  readonly items: ReadonlyArray<Purchase>
  readonly total: number
  readonly page: number
  readonly limit: number
}

/** A customer's points: the balance and its history, newest first (at most `limit`, default 50). @since 0.3.0 */
export interface PointsView {
  readonly balance: number
  readonly history: ReadonlyArray<PointsEntry>
}

type InputError = Phone.InvalidPhone | ValidationError | StorageError

/**
 * The purchases service. Every method takes `unknown` input and validates it; a refusal writes nothing.
 *
 * @since 0.3.0
 */
export interface PurchasesShape {
  /**
   * Records a purchase for the phone's customer (created, source `customer_hub`, if new) or for an
   * existing `customerId`. Idempotent by `reference`: the same payload returns the first result; another
   * payload fails `IdempotencyConflict`. A blacklisted customer fails `CustomerBlacklisted`.
   */
  readonly record: (
    input: PurchaseInput
  ) => Effect.Effect<PurchaseResult, InputError | InvalidAmount | CustomerNotFound | CustomerBlacklisted | IdempotencyConflict>
  /**
   * Records a return of a purchase: `amount` (default: all that is left of it) at most what is left;
   * idempotent by its own `reference`.
   */
  readonly recordReturn: (
    input: ReturnInput
  ) => Effect.Effect<
    ReturnResult,
    InputError | InvalidAmount | CustomerNotFound | PurchaseNotFound | ReturnExceedsPurchase | IdempotencyConflict
  >
  /** A purchase by its reference, with its returns. */
  readonly get: (reference: string) => Effect.Effect<PurchaseDetails, PurchaseNotFound | InputError>
  /** The customer's purchases, newest first (`page` from 1, `limit` 1–100, default 20). */
  readonly list: (
    phone: string,
    options?: { readonly page?: number | undefined; readonly limit?: number | undefined }
  ) => Effect.Effect<PurchasePage, CustomerNotFound | InputError>
  /** The customer's points balance and history (earned, taken back). */
  readonly points: (
    phone: string,
    options?: { readonly limit?: number | undefined }
  ) => Effect.Effect<PointsView, CustomerNotFound | InputError>
  /** The customer's membership: level, discount, total spent, points, the next level and how far it is. */
  readonly membership: (phone: string) => Effect.Effect<Membership, CustomerNotFound | InputError>
}

/** The Purchases service. @since 0.3.0 */
export class Purchases extends Context.Tag("customer360/Purchases")<Purchases, PurchasesShape>() {}

const decodePurchase = decoder(PurchaseInput, "purchase")
const decodeReturn = decoder(ReturnInput, "return")
const decodeReference = decoder(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(200)), "reference")
const decodePage = decoder(
  Schema.Struct({
    page: Schema.optional(Schema.Int.pipe(Schema.between(1, 1_000_000))),
    limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 100)))
  }),
  "page"
)
const decodeLimit = decoder(Schema.Struct({ limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 500))) }), "points")

const newId = (prefix: string, at: number) => encodeId(prefix, at, randomBytes(10))
const fresh = (c: Customer): CustomerPurchaseState => ({
  purchaseVersion: 0,
  totalOrders: c.totalOrders,
  totalSpent: c.totalSpent,
  points: c.points,
  lastPurchaseAt: c.lastPurchaseAt?.getTime() ?? null,
  tier: c.tier,
  level: c.membershipLevel,
  createdAt: c.createdAt.getTime(),
  lastDay: null,
  frequency: 0
})

/** @since 0.3.0 */
export const make = Effect.gen(function*() {
  const repo = yield* PurchaseRepository
  const customers = yield* Customers
  const tx = yield* Transactions
  const uow = yield* UnitOfWork
  const events = yield* EventPublisher
  const config = yield* Customer360Config
  const rfmConfig = config.rfm

  /** The first business day of the frequency window that ends today. */
  const windowStart = (today: number) => today - rfmConfig.frequencyWindowDays + 1

  /**
   * The customer's RFM after the change, or `null` in quantile mode (scores there are relative to
   * every customer, and change with a recomputation only).
   */
  const rescore = (
    c: Customer,
    after: { readonly lastDay: number | null; readonly frequency: number; readonly monetary: number },
    now: number,
    today: number
  ): RfmResult | null =>
    rfmConfig.mode === "quantile" ? null : scoreCustomer(
      {
        lastPurchaseDay: after.lastDay,
        frequency: after.frequency,
        monetary: after.monetary,
        createdAt: c.createdAt.getTime(),
        blacklisted: c.tier === "blacklist"
      },
      { today, now },
      rfmConfig
    )

  const rfmRow = (customerId: string, result: RfmResult | null, lastDay: number | null, today: number, now: number): RfmRow | null =>
    result === null ? null : {
      customerId,
      lastDay,
      frequency: result.frequency,
      monetary: result.monetary,
      r: result.r,
      f: result.f,
      m: result.m,
      segment: result.segment,
      tier: result.tier,
      asOfDay: today,
      scoredAt: now
    }

  const changeEvents = (
    customerId: string,
    at: Date,
    before: CustomerPurchaseState,
    after: CustomerFigures,
    result: RfmResult | null,
    reason: string
  ) => {
    const list: Array<DomainEvent> = []
    const levelChanged = before.level === after.level ? null : { from: before.level, to: after.level }
    const tierChanged = before.tier === after.tier ? null : { from: before.tier, to: after.tier }
    if (levelChanged !== null) {
      list.push({
        id: newId("evt", at.getTime()),
        type: "customer.level_changed",
        channel: "customers",
        subject: customerId,
        occurredAt: at,
        data: { ...levelChanged, totalSpent: after.totalSpent }
      })
    }
    if (tierChanged !== null) {
      list.push({
        id: newId("evt", at.getTime()),
        type: "customer.tier_changed",
        channel: "customers",
        subject: customerId,
        occurredAt: at,
        data: { ...tierChanged, r: result?.r ?? null, f: result?.f ?? null, m: result?.m ?? null, reason }
      })
    }
    return { list, levelChanged, tierChanged }
  }

  /** The customer as the change leaves it, remembered for the rest of the transaction. */
  const customerAfter = (c: Customer, f: CustomerFigures) =>
    Effect.gen(function*() {
      const after = new (c.constructor as typeof Customer)({
        ...c,
        totalOrders: f.totalOrders,
        totalSpent: f.totalSpent,
        points: f.points,
        lastPurchaseAt: f.lastPurchaseAt === null ? null : new Date(f.lastPurchaseAt),
        membershipLevel: f.level as Customer["membershipLevel"],
        tier: f.tier as Customer["tier"],
        updatedAt: new Date(f.updatedAt)
      })
      yield* uow.remember(memoKeys.customerById(after.id), after)
      if (after.phone !== null) yield* uow.remember(memoKeys.customerByPhone(after.phone), after)
      return after
    })

  const record: PurchasesShape["record"] = (raw) =>
    Effect.gen(function*() {
      const input = yield* decodePurchase(raw)
      if ((input.phone === undefined) === (input.customerId === undefined)) {
        return yield* ValidationError.single("phone", "give exactly one of phone and customerId")
      }
      const amount = yield* money(input.amount)
      const items = input.items ?? []
      const shopId = input.shopId ?? null
      let attempt = 0
      return yield* tx.withTransaction(Effect.suspend(() =>
        Effect.gen(function*() {
          attempt += 1
          const now = yield* Clock.currentTimeMillis
          const at = input.at === undefined ? now : input.at.getTime()
          if (at > now + MAX_AHEAD_MS) {
            return yield* ValidationError.single("at", "must not be more than 5 minutes ahead of the clock")
          }
          const customer = input.phone !== undefined
            ? (yield* customers.getOrCreate({ phone: input.phone, source: "customer_hub" })).customer
            : yield* customers.get(input.customerId!)
          const fingerprint = JSON.stringify([
            customer.id,
            amount,
            input.at === undefined ? null : at,
            shopId,
            items.map((i) => [i.productId, i.name, i.quantity, i.unitPrice])
          ])
          // the first attempt does not look the reference up: a reference used before fails the
          // insert (its unique key), and the attempt that follows finds it. A blacklisted customer's
          // is looked up first: a repeat of a purchase recorded before the blacklisting (a client's
          // retry) still answers its first result; only a new purchase is refused.
          if (attempt > 1 || customer.tier === "blacklist") {
            const existing = yield* repo.findByReference(input.reference)
            if (Option.isSome(existing)) {
              if (existing.value.fingerprint !== fingerprint) return yield* new IdempotencyConflict({ reference: input.reference })
              const current = yield* customers.get(existing.value.purchase.customerId)
              return { purchase: existing.value.purchase, customer: current, repeated: true, levelChanged: null, tierChanged: null }
            }
          }
          if (customer.tier === "blacklist") return yield* new CustomerBlacklisted({ customerId: customer.id })
          const today = businessDay(now, config.timeZone)
          const day = businessDay(at, config.timeZone)
          const before = Option.getOrElse(yield* repo.state(customer.id, windowStart(today)), () => fresh(customer))
          const points = pointsFor(amount)
          const totalSpent = before.totalSpent + amount
          const lastDay = before.lastDay === null ? day : Math.max(before.lastDay, day)
          const frequency = before.frequency + (day >= windowStart(today) ? 1 : 0)
          const result = rescore(customer, { lastDay, frequency, monetary: totalSpent }, now, today)
          const figures: CustomerFigures = {
            customerId: customer.id,
            purchaseVersion: before.purchaseVersion + 1,
            totalOrders: before.totalOrders + 1,
            totalSpent,
            points: before.points + points,
            lastPurchaseAt: before.lastPurchaseAt === null ? at : Math.max(before.lastPurchaseAt, at),
            level: levelFor(totalSpent),
            tier: result?.tier ?? before.tier,
            updatedAt: now
          }
          const purchase = new Purchase({
            id: newId("pur", at),
            reference: input.reference,
            customerId: customer.id,
            amount,
            returned: 0,
            points,
            pointsReturned: 0,
            shopId,
            items,
            at: new Date(at),
            createdAt: new Date(now)
          })
          yield* repo.record({
            purchase,
            fingerprint,
            businessDay: day,
            customer: figures,
            rfm: rfmRow(customer.id, result, lastDay, today, now)
          })
          const occurred = new Date(now)
          const changes = changeEvents(customer.id, occurred, before, figures, result, "purchase")
          yield* events.publish([
            {
              id: newId("evt", now),
              type: "customer.purchase_recorded",
              channel: "customers",
              subject: customer.id,
              occurredAt: occurred,
              data: { purchase: purchaseToJson(purchase), totalSpent: figures.totalSpent, points: figures.points }
            },
            ...changes.list
          ])
          const after = yield* customerAfter(customer, figures)
          return { purchase, customer: after, repeated: false, levelChanged: changes.levelChanged, tierChanged: changes.tierChanged }
        })
      ))
    })

  const recordReturn: PurchasesShape["recordReturn"] = (raw) =>
    Effect.gen(function*() {
      const input = yield* decodeReturn(raw)
      const requested = input.amount === undefined ? undefined : yield* money(input.amount)
      return yield* tx.withTransaction(Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const at = input.at === undefined ? now : input.at.getTime()
        if (at > now + MAX_AHEAD_MS) {
          return yield* ValidationError.single("at", "must not be more than 5 minutes ahead of the clock")
        }
        const stored = yield* repo.findByReference(input.purchaseReference)
        if (Option.isNone(stored)) return yield* new PurchaseNotFound({ reference: input.purchaseReference })
        const purchase = stored.value.purchase
        const fingerprint = JSON.stringify([purchase.id, requested ?? null, input.at === undefined ? null : at])
        const existing = yield* repo.findReturn(input.reference)
        if (Option.isSome(existing)) {
          if (existing.value.fingerprint !== fingerprint) return yield* new IdempotencyConflict({ reference: input.reference })
          return {
            return: existing.value.ret,
            purchase,
            customer: yield* customers.get(purchase.customerId),
            repeated: true,
            levelChanged: null,
            tierChanged: null
          }
        }
        if (at < purchase.at.getTime()) {
          return yield* ValidationError.single("at", "must not be before the purchase")
        }
        const customer = yield* customers.get(purchase.customerId)
        const today = businessDay(now, config.timeZone)
        const before = Option.getOrElse(yield* repo.state(customer.id, windowStart(today)), () => fresh(customer))
        // What is left of the purchase is read again, after its customer's figures: a return of it
        // committed since the first read either shows here, or it stepped the customer's
        // `purchase_version` after the figures were read, and the version guard refuses this write
        // (its unit of work runs again). Planned on the first read alone, two concurrent returns
        // would both write `returned` from the same value — more returned than bought.
        const current = Option.getOrElse(yield* repo.findByReference(input.purchaseReference), () => stored.value).purchase
        const returnable = current.amount - current.returned
        const amount = requested ?? returnable
        if (amount === 0 || amount > returnable) {
          return yield* new ReturnExceedsPurchase({ purchaseReference: current.reference, amount, returnable })
        }
        const taken = pointsTakenBack(current.returned, current.returned + amount)
        const totalSpent = Math.max(0, before.totalSpent - amount)
        const result = rescore(customer, { lastDay: before.lastDay, frequency: before.frequency, monetary: totalSpent }, now, today)
        const figures: CustomerFigures = {
          customerId: customer.id,
          purchaseVersion: before.purchaseVersion + 1,
          totalOrders: before.totalOrders,
          totalSpent,
          points: Math.max(0, before.points - taken),
          lastPurchaseAt: before.lastPurchaseAt,
          level: levelFor(totalSpent),
          tier: result?.tier ?? before.tier,
          updatedAt: now
        }
        const ret = new PurchaseReturn({
          id: newId("ret", at),
          reference: input.reference,
          purchaseId: purchase.id,
          purchaseReference: purchase.reference,
          customerId: customer.id,
          amount,
          points: taken,
          at: new Date(at)
        })
        const purchaseAfter = new Purchase({
          ...current,
          returned: current.returned + amount,
          pointsReturned: current.pointsReturned + taken
        })
        yield* repo.recordReturn({
          ret,
          fingerprint,
          businessDay: businessDay(at, config.timeZone),
          purchase: purchaseAfter,
          customer: figures,
          rfm: rfmRow(customer.id, result, before.lastDay, today, now)
        })
        const occurred = new Date(now)
        const changes = changeEvents(customer.id, occurred, before, figures, result, "return")
        yield* events.publish([
          {
            id: newId("evt", now),
            type: "customer.return_recorded",
            channel: "customers",
            subject: customer.id,
            occurredAt: occurred,
            data: {
              returnId: ret.id,
              reference: ret.reference,
              purchaseReference: purchase.reference,
              amount,
              pointsTakenBack: taken,
              totalSpent: figures.totalSpent,
              points: figures.points
            }
          },
          ...changes.list
        ])
        const after = yield* customerAfter(customer, figures)
        return {
          return: ret,
          purchase: purchaseAfter,
          customer: after,
          repeated: false,
          levelChanged: changes.levelChanged,
          tierChanged: changes.tierChanged
        }
      }))
    })

  const get: PurchasesShape["get"] = (raw) =>
    Effect.gen(function*() {
      const reference = yield* decodeReference(raw)
      const stored = yield* repo.findByReference(reference)
      if (Option.isNone(stored)) return yield* new PurchaseNotFound({ reference })
      return { purchase: stored.value.purchase, returns: yield* repo.returnsOf(stored.value.purchase.id) }
    })

  const list: PurchasesShape["list"] = (phone, raw) =>
    Effect.gen(function*() {
      const options = yield* decodePage(raw ?? {})
      const customer = yield* customers.getByPhone(phone)
      const page = options.page ?? 1
      const limit = options.limit ?? 20
      const { items, total } = yield* repo.list(customer.id, { offset: (page - 1) * limit, limit })
      return { items, total, page, limit }
    })

  const points: PurchasesShape["points"] = (phone, raw) =>
    Effect.gen(function*() {
      const options = yield* decodeLimit(raw ?? {})
      const customer = yield* customers.getByPhone(phone)
      return { balance: customer.points, history: yield* repo.pointsHistory(customer.id, options.limit ?? 50) }
    })

  const membership: PurchasesShape["membership"] = (phone) =>
    Effect.map(customers.getByPhone(phone), (c) => membershipOf(c.totalSpent, c.points))

  return Purchases.of(withSpans("Purchases", { record, recordReturn, get, list, points, membership }))
})

/** @since 0.3.0 */
export const layer: Layer.Layer<
  Purchases,
  never,
  PurchaseRepository | Customers | Transactions | UnitOfWork | EventPublisher | Customer360Config
> = Layer.effect(Purchases, make)
