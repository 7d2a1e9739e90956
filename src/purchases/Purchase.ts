/**
 * Purchases, returns, points and membership (DOMAIN §7, §7a): the model and its pure rules.
 *
 * - A purchase has a customer, a positive whole amount in đồng, a reference (its idempotency key),
 *   a time, a shop and its lines. It earns `floor(amount / 10,000)` points.
 * - A return names its purchase; the returns of a purchase never add up to more than its amount.
 *   Points taken back are counted on what the purchase has returned in all: after its returns, a
 *   purchase keeps `floor(amount / 10,000) − floor(returned / 10,000)` points — never below zero,
 *   and none once it is returned in full ({@link pointsTakenBack}).
 * - The customer's total spent is its purchases less their returns; its membership level and
 *   discount follow from that total ({@link levelFor}).
 *
 * The rules, in full: docs/purchases.md.
 *
 * @since 0.3.0
 */
import * as Schema from "effect/Schema"
import { Text } from "../kernel/Text.js"

/** Đồng per point: a purchase earns `floor(amount / POINT_VALUE)` points. @since 0.3.0 */
export const POINT_VALUE = 10_000

/** The points a purchase of `amount` earns. @since 0.3.0 */
export const pointsFor = (amount: number): number => Math.floor(amount / POINT_VALUE)

/**
 * The points a return takes back: what the purchase's returns take back in all after it, less what
 * they took before it. In all they never exceed what the purchase earned (`returned <= amount`).
 *
 * @since 0.3.0
 */
export const pointsTakenBack = (returnedBefore: number, returnedAfter: number): number =>
  Math.floor(returnedAfter / POINT_VALUE) - Math.floor(returnedBefore / POINT_VALUE)

/** A membership level (DOMAIN §7). @since 0.3.0 */
export type Level = "bronze" | "silver" | "gold" | "platinum"

/** The least total spent for each level above bronze, highest first, and the discount of each. @since 0.3.0 */
export const LEVELS: ReadonlyArray<{ readonly level: Level; readonly minSpent: number; readonly discount: number }> = [
  { level: "platinum", minSpent: 10_000_000, discount: 20 },
  { level: "gold", minSpent: 5_000_000, discount: 15 },
  { level: "silver", minSpent: 2_000_000, discount: 10 },
  { level: "bronze", minSpent: 0, discount: 5 }
]

/** The level of a total spent (purchases less returns). @since 0.3.0 */
export const levelFor = (totalSpent: number): Level => LEVELS.find((l) => totalSpent >= l.minSpent)!.level

/** The discount, in percent, of a level. @since 0.3.0 */
export const discountFor = (level: Level): number => LEVELS.find((l) => l.level === level)!.discount

/**
 * A customer's membership: level and discount by total spent, points, and how far the next level is
 * (`null` at platinum).
 *
 * @since 0.3.0
 */
export interface Membership {
  readonly level: Level
  readonly discount: number
  readonly totalSpent: number
  readonly points: number
  readonly nextLevel: Level | null
  readonly toNextLevel: number | null
}

/** The membership of a total spent and points balance. @since 0.3.0 */
export const membershipOf = (totalSpent: number, points: number): Membership => {
  const level = levelFor(totalSpent)
  const index = LEVELS.findIndex((l) => l.level === level)
  const next = index === 0 ? undefined : LEVELS[index - 1]
  return {
    level,
    discount: discountFor(level),
    totalSpent,
    points,
    nextLevel: next?.level ?? null,
    toNextLevel: next === undefined ? null : next.minSpent - totalSpent
  }
}

// ---------------------------------------------------------------------------------------------
// The records

/** A line of a purchase. @since 0.3.0 */
export class PurchaseItem extends Schema.Class<PurchaseItem>("PurchaseItem")({
  productId: Text(100),
  name: Text(200),
  quantity: Schema.Int.pipe(Schema.between(1, 1_000_000)),
  unitPrice: Schema.Int.pipe(Schema.between(0, Number.MAX_SAFE_INTEGER))
}) {}

/**
 * A recorded purchase. `returned` is what its returns add up to; `points` what it earned and
 * `pointsReturned` what its returns took back.
 *
 * @since 0.3.0
 */
export class Purchase extends Schema.Class<Purchase>("Purchase")({
  id: Schema.String,
  reference: Schema.String,
  customerId: Schema.String,
  amount: Schema.Int,
  returned: Schema.Int,
  points: Schema.Int,
  pointsReturned: Schema.Int,
  shopId: Schema.NullOr(Schema.String),
  items: Schema.Array(PurchaseItem),
  at: Schema.DateFromSelf,
  createdAt: Schema.DateFromSelf
}) {}

/** A recorded return. `points` are the points it took back. @since 0.3.0 */
export class PurchaseReturn extends Schema.Class<PurchaseReturn>("PurchaseReturn")({
  id: Schema.String,
  reference: Schema.String,
  purchaseId: Schema.String,
  purchaseReference: Schema.String,
  customerId: Schema.String,
  amount: Schema.Int,
  points: Schema.Int,
  at: Schema.DateFromSelf
}) {}

/** A purchase as JSON (events, HTTP): instants as ISO strings. @since 0.3.0 */
export const purchaseToJson = (p: Purchase) => ({
  id: p.id,
  reference: p.reference,
  customerId: p.customerId,
  amount: p.amount,
  returned: p.returned,
  points: p.points,
  pointsReturned: p.pointsReturned,
  shopId: p.shopId,
  items: p.items.map((i) => ({ productId: i.productId, name: i.name, quantity: i.quantity, unitPrice: i.unitPrice })),
  at: p.at.toISOString(),
  createdAt: p.createdAt.toISOString()
})

/** An entry of a customer's points history: earned by a purchase, or taken back by a return. @since 0.3.0 */
export interface PointsEntry {
  readonly kind: "earned" | "taken_back"
  readonly points: number
  readonly reference: string
  readonly purchaseReference: string
  readonly amount: number
  readonly at: Date
}

// ---------------------------------------------------------------------------------------------
// Inputs

/** When a purchase happened: a `Date` or an ISO 8601 string. @since 0.3.0 */
export const When = Schema.Union(Schema.DateFromSelf, Schema.Date).pipe(
  Schema.filter((d) => !Number.isNaN(d.getTime()), { message: () => "must be a valid date" })
)

/**
 * Input of `record`: the customer by `phone` (any DOMAIN §1 format; created, source `customer_hub`,
 * when new) or by `customerId` (which must exist) — exactly one; `amount` a positive whole number of
 * đồng; `reference` its idempotency key; `at` when it happened (default: the clock; never more than
 * 5 minutes ahead of it); `shopId`; `items` (at most 500 lines; their sum need not be the amount:
 * discounts and rounding are the shop's).
 *
 * @since 0.3.0
 */
export const PurchaseInput = Schema.Struct({
  phone: Schema.optional(Schema.String),
  customerId: Schema.optional(Text(100)),
  amount: Schema.Unknown,
  reference: Text(200),
  at: Schema.optional(When),
  shopId: Schema.optional(Schema.NullOr(Text(100))),
  items: Schema.optional(Schema.Array(PurchaseItem).pipe(Schema.maxItems(500)))
})
/** @since 0.3.0 */
export type PurchaseInput = Schema.Schema.Encoded<typeof PurchaseInput>

/**
 * Input of `recordReturn`: the purchase's reference, the amount returned (default: all that is left
 * of it), the return's own reference (its idempotency key), and when (default: the clock).
 *
 * @since 0.3.0
 */
export const ReturnInput = Schema.Struct({
  purchaseReference: Text(200),
  amount: Schema.optional(Schema.Unknown),
  reference: Text(200),
  at: Schema.optional(When)
})
/** @since 0.3.0 */
export type ReturnInput = Schema.Schema.Encoded<typeof ReturnInput>

// ---------------------------------------------------------------------------------------------
// Errors

/** The customer is blacklisted (DOMAIN §8): no new purchase; nothing was written. @since 0.3.0 */
export class CustomerBlacklisted extends Schema.TaggedError<CustomerBlacklisted>()("CustomerBlacklisted", {
  customerId: Schema.String
}) {
  override get message(): string {
    return `Customer ${this.customerId} is blacklisted: no new purchase can be recorded`
  }
}

/** No purchase has the reference. @since 0.3.0 */
export class PurchaseNotFound extends Schema.TaggedError<PurchaseNotFound>()("PurchaseNotFound", {
  reference: Schema.String
}) {
  override get message(): string {
    return `No purchase has the reference ${JSON.stringify(this.reference)}`
  }
}

/** A return above what is left of its purchase; nothing was written. @since 0.3.0 */
export class ReturnExceedsPurchase extends Schema.TaggedError<ReturnExceedsPurchase>()("ReturnExceedsPurchase", {
  purchaseReference: Schema.String,
  amount: Schema.Int,
  returnable: Schema.Int
}) {
  override get message(): string {
    return this.returnable === 0
      ? `Purchase ${JSON.stringify(this.purchaseReference)} is already returned in full`
      : `A return of ${this.amount} đồng is more than the ${this.returnable} đồng left of purchase ${
        JSON.stringify(this.purchaseReference)
      }`
  }
}
