/**
 * Bank transfers (DOMAIN §5): the model — a transfer as received from the provider, how it was
 * matched to a customer (or why not), its status — the SePay webhook payload, and the typed errors.
 *
 * The rules, in full: docs/transfers.md.
 *
 * @since 0.2.0
 */
import { TZDate } from "@date-fns/tz"
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { ValidationError } from "../kernel/Errors.js"

/**
 * - `matched`: an incoming transfer the matcher linked to a customer, and deposited;
 * - `linked`: linked by staff (deposited or not, as they chose);
 * - `pending`: an incoming transfer the matcher could not attribute (several candidates, or none),
 *   waiting for staff with its candidates;
 * - `out`: money that left the account; recorded, never deposited (staff may still link it).
 *
 * @since 0.2.0
 */
export const TransferStatus = Schema.Literal("matched", "linked", "pending", "out")
/** @since 0.2.0 */
export type TransferStatus = typeof TransferStatus.Type

/** How a transfer was linked: by a customer's code, a phone in its content, or by staff. @since 0.2.0 */
export const MatchedBy = Schema.Literal("code", "phone", "staff")

/** A candidate of a pending transfer. @since 0.2.0 */
export const MatchCandidate = Schema.Union(
  Schema.Struct({ kind: Schema.Literal("code"), code: Schema.String, customerId: Schema.String }),
  Schema.Struct({ kind: Schema.Literal("phone"), phone: Schema.String })
)

/**
 * Why a transfer is linked to its customer, or why not: `by` (`null` while not linked), the reason
 * the matcher gave (`no_candidate`, `several_codes`, `several_phones`, `out`, or how it matched),
 * its candidates, and one sentence a person can read.
 *
 * @since 0.2.0
 */
export const Match = Schema.Struct({
  by: Schema.NullOr(MatchedBy),
  reason: Schema.String,
  candidates: Schema.Array(MatchCandidate),
  explanation: Schema.String
})
/** @since 0.2.0 */
export type Match = typeof Match.Type

/**
 * A bank transfer as stored: the provider's fields, the raw payload as received, and its match.
 * `version` steps by one on every change (the guard against two staff linking it at once).
 *
 * @since 0.2.0
 */
export class BankTransfer extends Schema.Class<BankTransfer>("BankTransfer")({
  id: Schema.String,
  provider: Schema.Literal("sepay"),
  providerId: Schema.String,
  gateway: Schema.String,
  accountNumber: Schema.String,
  subAccount: Schema.NullOr(Schema.String),
  providerCode: Schema.NullOr(Schema.String),
  content: Schema.String,
  transferType: Schema.Literal("in", "out"),
  amount: Schema.Int,
  accumulated: Schema.NullOr(Schema.Int),
  referenceCode: Schema.NullOr(Schema.String),
  transactionDate: Schema.DateFromSelf,
  receivedAt: Schema.DateFromSelf,
  status: TransferStatus,
  customerId: Schema.NullOr(Schema.String),
  match: Match,
  depositTransactionId: Schema.NullOr(Schema.String),
  linkedAt: Schema.NullOr(Schema.DateFromSelf),
  linkedBy: Schema.NullOr(Schema.String),
  raw: Schema.Unknown,
  version: Schema.Int
}) {}

/** A transfer as JSON (instants as ISO strings), as events and lists carry it. @since 0.2.0 */
export const transferToJson = (t: BankTransfer) => ({
  id: t.id,
  provider: t.provider,
  providerId: t.providerId,
  gateway: t.gateway,
  accountNumber: t.accountNumber,
  transferType: t.transferType,
  amount: t.amount,
  content: t.content,
  referenceCode: t.referenceCode,
  transactionDate: t.transactionDate.toISOString(),
  status: t.status,
  customerId: t.customerId,
  match: t.match,
  depositTransactionId: t.depositTransactionId
})

/** The SePay webhook was called without the configured key. @since 0.2.0 */
export class WebhookUnauthorized extends Schema.TaggedError<WebhookUnauthorized>()("WebhookUnauthorized", {}) {
  override get message(): string {
    return "The webhook needs the header Authorization: Apikey <the configured key>"
  }
}

/** No transfer has the id. @since 0.2.0 */
export class TransferNotFound extends Schema.TaggedError<TransferNotFound>()("TransferNotFound", { id: Schema.String }) {
  override get message(): string {
    return `No bank transfer has the id ${JSON.stringify(this.id)}`
  }
}

/** The transfer is linked to a customer already: it is linked, and deposited, at most once. @since 0.2.0 */
export class TransferAlreadyLinked extends Schema.TaggedError<TransferAlreadyLinked>()("TransferAlreadyLinked", {
  id: Schema.String,
  customerId: Schema.String
}) {
  override get message(): string {
    return `The transfer ${this.id} is already linked to ${this.customerId}`
  }
}

// ---------------------------------------------------------------------------------------------
// The SePay webhook

const Id = Schema.Union(
  Schema.Int.pipe(Schema.between(1, Number.MAX_SAFE_INTEGER)),
  Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/, { message: () => "must be SePay's transaction id" }))
)
const LocalTime = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$/, { message: () => "must be YYYY-MM-DD HH:mm:ss" })
)
const Short = (max: number) => Schema.String.pipe(Schema.maxLength(max, { message: () => `must be at most ${max} characters` }))

/**
 * The webhook body SePay sends (https://docs.sepay.vn): `id`, `gateway`, `transactionDate` (local
 * time of the bank, read in the business time zone), `accountNumber`, `code`, `content`,
 * `transferType` (`in` | `out`), `transferAmount` (whole đồng, > 0), `accumulated`, `subAccount`,
 * `referenceCode`, `description`. Fields SePay may add later are ignored (and kept in the raw
 * payload).
 *
 * @since 0.2.0
 */
export const SepayPayload = Schema.Struct({
  id: Id,
  gateway: Short(100),
  transactionDate: LocalTime,
  accountNumber: Short(64),
  code: Schema.optional(Schema.NullOr(Short(100))),
  content: Short(1000),
  transferType: Schema.Literal("in", "out"),
  transferAmount: Schema.Int.pipe(
    Schema.between(1, Number.MAX_SAFE_INTEGER, { message: () => "must be a positive whole number of đồng" })
  ),
  accumulated: Schema.optional(Schema.NullOr(Schema.Int)),
  subAccount: Schema.optional(Schema.NullOr(Short(64))),
  referenceCode: Schema.optional(Schema.NullOr(Short(100))),
  description: Schema.optional(Schema.NullOr(Short(1000)))
})
/** @since 0.2.0 */
export type SepayPayload = typeof SepayPayload.Type

const decodeSepay = Schema.decodeUnknownEither(SepayPayload, { errors: "all", onExcessProperty: "ignore" })

/** A webhook body as a payload, or a `ValidationError` saying what is wrong. @since 0.2.0 */
export const parseSepay = (body: unknown): Either.Either<SepayPayload, ValidationError> =>
  Either.mapLeft(decodeSepay(body), (e: ParseResult.ParseError) => ValidationError.fromParseError("SePay webhook", e))

/**
 * The instant of a bank's local time (`2026-12-01 14:02:37`) in the business time zone, or
 * `undefined` when it is not a real time (`2026-02-30 25:00:00`).
 *
 * @since 0.2.0
 */
export const localTimeToInstant = (local: string, timeZone: string): Date | undefined => {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(local)
  if (m === null) return undefined
  const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? "0"].map(Number) as [number, number, number, number, number, number]
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined
  const probe = new Date(Date.UTC(y, mo - 1, d))
  if (probe.getUTCMonth() !== mo - 1) return undefined
  return new Date(new TZDate(y, mo - 1, d, h, mi, s, timeZone).getTime())
}

/** The provider's id as text, whichever form SePay sent. @since 0.2.0 */
export const providerIdOf = (p: SepayPayload): string => String(p.id)
