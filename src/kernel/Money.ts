/**
 * Money: whole Vietnamese đồng as JavaScript integers, never floats.
 *
 * The rules, in full: docs/wallets.md#amount-limits.
 *
 * @since 0.1.0
 */
import * as Brand from "effect/Brand"
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"

/**
 * An operation amount: a positive safe integer number of đồng (1 ≤ amount ≤ 2^53 − 1).
 *
 * @since 0.1.0
 */
export type Money = number & Brand.Brand<"Money">

/**
 * Why a value is not an amount.
 *
 * @since 0.1.0
 */
export const InvalidAmountReason = Schema.Literal("not_a_number", "not_integer", "not_positive", "too_large")
/** @since 0.1.0 */
export type InvalidAmountReason = typeof InvalidAmountReason.Type

const reasonText: Record<InvalidAmountReason, string> = {
  not_a_number: "is not a number",
  not_integer: "is not a whole number of đồng",
  not_positive: "must be greater than zero",
  too_large: "is too large"
}

/**
 * The value is not a valid amount of đồng; `reason` says why.
 *
 * @since 0.1.0
 */
export class InvalidAmount extends Schema.TaggedError<InvalidAmount>()("InvalidAmount", {
  reason: InvalidAmountReason,
  input: Schema.String
}) {
  override get message(): string {
    return `Amount ${this.input} ${reasonText[this.reason]} (${this.reason})`
  }
}

const show = (u: unknown): string => {
  try {
    const s = typeof u === "string" ? JSON.stringify(u) : String(u)
    return s.length > 40 ? `${s.slice(0, 40)}…` : s
  } catch {
    return typeof u
  }
}

/**
 * Validates an amount: a `number` (not a numeric string, not a bigint) that is an integer, > 0 and
 * at most `Number.MAX_SAFE_INTEGER`.
 *
 * @since 0.1.0
 */
export const money = (u: unknown): Either.Either<Money, InvalidAmount> => {
  if (typeof u !== "number" || Number.isNaN(u)) return Either.left(new InvalidAmount({ reason: "not_a_number", input: show(u) }))
  if (!Number.isFinite(u)) return Either.left(new InvalidAmount({ reason: u > 0 ? "too_large" : "not_positive", input: show(u) }))
  if (!Number.isInteger(u)) return Either.left(new InvalidAmount({ reason: "not_integer", input: show(u) }))
  if (u <= 0) return Either.left(new InvalidAmount({ reason: "not_positive", input: show(u) }))
  if (u > Number.MAX_SAFE_INTEGER) return Either.left(new InvalidAmount({ reason: "too_large", input: show(u) }))
  return Either.right(u as Money)
}

/** @internal for values already proven valid */
export const unsafeMoney: Brand.Brand.Constructor<Money> = Brand.nominal<Money>()

/**
 * A balance or remainder: a non-negative safe integer number of đồng.
 *
 * @since 0.1.0
 */
export const Balance = Schema.Int.pipe(Schema.between(0, Number.MAX_SAFE_INTEGER))
