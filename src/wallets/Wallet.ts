/**
 * Wallets (DOMAIN §3): one per customer, a real balance plus virtual credits that expire. Pure:
 * the models, the spend order, the withdrawal and expiry planners, the typed errors and the views.
 *
 * Ledger entries carry signed amounts: `deposit` (+), `withdrawal` (−), `merge_in` (+) and
 * `merge_out` (−) on the real balance; `credit_issued` (+), `credit_merged_in` (+), `credit_spent`
 * (−), `credit_expired` (−) and `credit_merged_out` (−) on one credit. Invariants, always: real
 * balance = sum of its real entries ≥ 0; each credit's remaining = the sum of its entries = amount −
 * spent − expired − merged ≥ 0; entries are never updated or deleted.
 *
 * The rules, in full: docs/wallets.md.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { encodeId, idPattern } from "../kernel/Ids.js"
import type { Money } from "../kernel/Money.js"

/** `vc_…`: a virtual credit's id, time-ordered. @since 0.1.0 */
export const CreditId = Schema.String.pipe(Schema.pattern(idPattern("vc")), Schema.brand("CreditId"))
/** @since 0.1.0 */
export type CreditId = typeof CreditId.Type
/** `txn_…`: one wallet operation (a deposit, a withdrawal, an issue, an expiry). @since 0.1.0 */
export const TransactionId = Schema.String.pipe(Schema.pattern(/^txn_[0-9A-Za-z_]+$/), Schema.brand("TransactionId"))
/** @since 0.1.0 */
export type TransactionId = typeof TransactionId.Type

/** @since 0.1.0 */
export const makeCreditId = (millis: number, random: Uint8Array): CreditId => encodeId("vc", millis, random) as CreditId
/** @since 0.1.0 */
export const makeTransactionId = (millis: number, random: Uint8Array): TransactionId =>
  encodeId("txn", millis, random) as TransactionId

/** Where a deposit comes from. @since 0.1.0 */
export const DepositSource = Schema.Literal("bank_transfer", "manual", "refund")
/** @since 0.1.0 */
export type DepositSource = typeof DepositSource.Type

/** @since 0.1.0 */
export const EntryKind = Schema.Literal(
  "deposit",
  "withdrawal",
  "credit_issued",
  "credit_spent",
  "credit_expired",
  "merge_out",
  "merge_in",
  "credit_merged_out",
  "credit_merged_in"
)
/** @since 0.1.0 */
export type EntryKind = typeof EntryKind.Type

/**
 * The kinds of entry on the real balance (`credit_id` NULL); every other kind is on one credit.
 *
 * @since 0.4.0
 */
export const REAL_ENTRY_KINDS: ReadonlyArray<EntryKind> = ["deposit", "withdrawal", "merge_out", "merge_in"]

/**
 * A credit's status: `active` while it has a remainder and has not been expired by the job;
 * `consumed` once spent to zero; `expired` once the expiry job removed its remainder; `merged` once a
 * merge moved its remainder to a new credit of the survivor (`merged_to`). A view shows an
 * active credit whose `expiresAt` has passed as `expired` even before the job runs: it is no longer
 * spendable either way.
 *
 * @since 0.1.0
 */
export const CreditStatus = Schema.Literal("active", "consumed", "expired", "merged")
/** @since 0.1.0 */
export type CreditStatus = typeof CreditStatus.Type

/**
 * A virtual credit as stored.
 *
 * @since 0.1.0
 */
export interface VirtualCredit {
  readonly id: CreditId
  readonly amount: number
  readonly remaining: number
  readonly issuedAt: Date
  readonly expiresAt: Date
  readonly status: CreditStatus
  readonly reason: string
  readonly ticketId: string | null
}

/**
 * What a wallet operation plans against: the real balance, the version it was read at, and the
 * credits that still have a remainder.
 *
 * @since 0.1.0
 */
export interface WalletState {
  readonly customerId: string
  readonly balance: number
  readonly version: number
  readonly credits: ReadonlyArray<VirtualCredit>
}

/**
 * A credit can be spent while it is active, has a remainder and `now < expiresAt` — whether or not
 * the expiry job has run.
 *
 * @since 0.1.0
 */
export const isSpendable = (credit: VirtualCredit, now: Date): boolean =>
  credit.status === "active" && credit.remaining > 0 && now.getTime() < credit.expiresAt.getTime()

/**
 * Spend order: earliest `expiresAt` first, then older `issuedAt`, then id.
 *
 * @since 0.1.0
 */
export const spendOrder = (a: VirtualCredit, b: VirtualCredit): number =>
  a.expiresAt.getTime() - b.expiresAt.getTime() ||
  a.issuedAt.getTime() - b.issuedAt.getTime() ||
  (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

/**
 * Whether every total a wallet reports stays a safe integer — its real balance `balance`, its
 * active credits' remainders and `added` đồng of new credits, together: the balance, the virtual
 * balance and `available` can then never pass `Number.MAX_SAFE_INTEGER`, whatever the clock. A
 * write that would break it is refused (`InvalidAmount`, `too_large`) and writes nothing
 * (docs/wallets.md#amount-limits).
 *
 * @since 0.1.0
 */
export const totalsStaySafe = (balance: number, credits: ReadonlyArray<VirtualCredit>, added = 0): boolean => {
  // every term is positive: once the running total is unsafe it stays unsafe
  let total = balance + added
  for (const c of credits) if (c.status === "active") total += c.remaining
  return Number.isSafeInteger(total)
}

/**
 * The sum of the spendable remainders at `now`.
 *
 * @since 0.1.0
 */
export const virtualBalance = (credits: ReadonlyArray<VirtualCredit>, now: Date): number => {
  let sum = 0
  for (const c of credits) if (isSpendable(c, now)) sum += c.remaining
  return sum
}

/**
 * The wallet holds less than the withdrawal asks for; nothing changed.
 *
 * @since 0.1.0
 */
export class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()("InsufficientFunds", {
  available: Schema.Number,
  requested: Schema.Number
}) {
  override get message(): string {
    return `Insufficient funds: ${this.requested} requested, ${this.available} available`
  }
}

/**
 * The reference was already used for a different operation or payload; nothing changed.
 *
 * @since 0.1.0
 */
export class IdempotencyConflict extends Schema.TaggedError<IdempotencyConflict>()("IdempotencyConflict", {
  reference: Schema.String
}) {
  override get message(): string {
    return `Reference ${JSON.stringify(this.reference)} was already used with a different payload`
  }
}

/**
 * How a withdrawal is paid: per credit in spend order, then from the real balance.
 *
 * @since 0.1.0
 */
export interface WithdrawalPlan {
  readonly fromCredits: ReadonlyArray<{ readonly creditId: CreditId; readonly amount: number; readonly remainingAfter: number }>
  readonly fromReal: number
  readonly balanceAfter: number
}

/**
 * Plans a withdrawal of `amount` at `now`: spendable credits first in {@link spendOrder}, then the
 * real balance. All or nothing: when the real balance plus the spendable credits is less than
 * `amount`, fails with {@link InsufficientFunds}. The parts always sum to `amount`.
 *
 * @since 0.1.0
 */
export const planWithdrawal = (
  wallet: { readonly balance: number },
  credits: ReadonlyArray<VirtualCredit>,
  amount: Money,
  now: Date
): Either.Either<WithdrawalPlan, InsufficientFunds> => {
  const spendable = credits.filter((c) => isSpendable(c, now)).sort(spendOrder)
  let fromVirtual = 0
  for (const c of spendable) fromVirtual += c.remaining
  const available = wallet.balance + fromVirtual
  if (available < amount) return Either.left(new InsufficientFunds({ available, requested: amount }))
  let left: number = amount
  const fromCredits: Array<WithdrawalPlan["fromCredits"][number]> = []
  for (const c of spendable) {
    if (left === 0) break
    const take = Math.min(left, c.remaining)
    fromCredits.push({ creditId: c.id, amount: take, remainingAfter: c.remaining - take })
    left -= take
  }
  return Either.right({ fromCredits, fromReal: left, balanceAfter: wallet.balance - left })
}

/**
 * The credits due to expire at `now` (active, with a remainder, `expiresAt <= now`), each with the
 * remainder that leaves the wallet, earliest first.
 *
 * @since 0.1.0
 */
export const planExpiry = (
  credits: ReadonlyArray<VirtualCredit>,
  now: Date
): ReadonlyArray<{ readonly creditId: CreditId; readonly amount: number }> =>
  credits
    .filter((c) => c.status === "active" && c.remaining > 0 && c.expiresAt.getTime() <= now.getTime())
    .sort(spendOrder)
    .map((c) => ({ creditId: c.id, amount: c.remaining }))

/**
 * What merging one wallet into another does (DOMAIN §9a), planned purely on both wallets' reads:
 * - credits of the merged wallet due at `at` (`expiresAt <= at`, with a remainder) are expired first,
 *   as the expiry job would;
 * - its real balance, if any, leaves by `merge_out` and arrives on the survivor's by `merge_in`;
 * - each unexpired credit's remainder becomes a new credit of the survivor with the same
 *   `expiresAt`, reason, ticket and **`issuedAt`** (so the spend order between credits is what it
 *   was: earliest expiry, then older issue), closed on the merged wallet by `credit_merged_out` and
 *   opened on the survivor's by `credit_merged_in`.
 *
 * Money is conserved: the survivor gains exactly the merged wallet's real balance and unexpired
 * remainders. `newCreditId` names the survivor's credit for an old one (deterministic, so that a
 * plan made twice on one read is the same plan).
 *
 * @since 0.4.0
 */
export const planMerge = (
  merged: { readonly balance: number; readonly credits: ReadonlyArray<VirtualCredit> },
  survivor: { readonly balance: number },
  at: Date,
  newCreditId: (old: CreditId) => CreditId
): MergePlan => {
  const open = merged.credits.filter((c) => c.status === "active" && c.remaining > 0).sort(spendOrder)
  const expired = open.filter((c) => c.expiresAt.getTime() <= at.getTime())
  const moved = open.filter((c) => c.expiresAt.getTime() > at.getTime()).map((from) => ({
    from,
    to: { ...from, id: newCreditId(from.id), amount: from.remaining, status: "active" as const }
  }))
  return { balance: merged.balance, expired, moved, survivorBalanceAfter: survivor.balance + merged.balance }
}

/**
 * A planned wallet merge (see {@link planMerge}): the real balance that moves, the credits expired
 * first, each moved credit with the survivor's new one, and the survivor's real balance after.
 *
 * @since 0.4.0
 */
export interface MergePlan {
  readonly balance: number
  readonly expired: ReadonlyArray<VirtualCredit>
  readonly moved: ReadonlyArray<{ readonly from: VirtualCredit; readonly to: VirtualCredit }>
  readonly survivorBalanceAfter: number
}

/** Default life of a virtual credit (DOMAIN §3). @since 0.1.0 */
export const DEFAULT_CREDIT_DAYS = 15

// --- views ----------------------------------------------------------------------------------

/**
 * A credit as callers see it; `status` is as of the time of the view.
 *
 * @since 0.1.0
 */
export class CreditView extends Schema.Class<CreditView>("CreditView")({
  id: CreditId,
  amount: Schema.Int,
  remaining: Schema.Int,
  issuedAt: Schema.Date,
  expiresAt: Schema.Date,
  status: CreditStatus,
  reason: Schema.String,
  ticketId: Schema.NullOr(Schema.String)
}) {
  /**
   * The JSON of the view — what `JSON.stringify` gives without this method (instants as ISO
   * strings, fields in declaration order) — built without the generic `Date` path, which costs about
   * a microsecond per instant: every write stores its result's JSON, and a result lists every credit.
   */
  toJSON() {
    return {
      id: this.id,
      amount: this.amount,
      remaining: this.remaining,
      issuedAt: isoString(this.issuedAt),
      expiresAt: isoString(this.expiresAt),
      status: this.status,
      reason: this.reason,
      ticketId: this.ticketId
    }
  }
}

/** ISO strings of instants seen lately, by epoch milliseconds (a credit's instants recur in every view of its wallet). */
const isoStrings = new Map<number, string>()
const isoString = (d: Date): string => {
  const t = d.getTime()
  let s = isoStrings.get(t)
  if (s === undefined) {
    s = d.toISOString()
    if (isoStrings.size >= 4096) isoStrings.clear()
    isoStrings.set(t, s)
  }
  return s
}

/**
 * A wallet as callers see it at an instant: `balance` is the real balance, `virtualBalance` the sum
 * of the spendable credit remainders, `available` their sum; `credits` are the credits not yet
 * finished (with a remainder and not expired by the job), in spend order.
 *
 * @since 0.1.0
 */
export class WalletView extends Schema.Class<WalletView>("WalletView")({
  customerId: Schema.String,
  balance: Schema.Int,
  virtualBalance: Schema.Int,
  available: Schema.Int,
  credits: Schema.Array(CreditView)
}) {}

/** @since 0.1.0 */
export const creditView = (c: VirtualCredit, now: Date): CreditView =>
  // fields come from a validated credit: the constructor's re-validation is skipped on this hot path
  new CreditView({
    id: c.id,
    amount: c.amount,
    remaining: c.remaining,
    // copies: a caller that changes a Date it was given changes no state the library keeps
    issuedAt: new Date(c.issuedAt.getTime()),
    expiresAt: new Date(c.expiresAt.getTime()),
    status: c.status === "active" && c.remaining === 0
      ? "consumed"
      : c.status === "active" && now.getTime() >= c.expiresAt.getTime()
      ? "expired"
      : c.status,
    reason: c.reason,
    ticketId: c.ticketId
  }, true)

/** @since 0.1.0 */
export const walletView = (state: WalletState, now: Date): WalletView => {
  const credits = state.credits.filter((c) => c.status === "active" && c.remaining > 0).sort(spendOrder)
  const virtual = virtualBalance(credits, now)
  return new WalletView({
    customerId: state.customerId,
    balance: state.balance,
    virtualBalance: virtual,
    available: state.balance + virtual,
    credits: credits.map((c) => creditView(c, now))
  }, true)
}

/**
 * One ledger entry as callers see it. `balanceAfter` is the real balance after the entry;
 * `creditRemainingAfter` the credit's remainder after it, for credit entries.
 *
 * @since 0.1.0
 */
export class LedgerEntry extends Schema.Class<LedgerEntry>("LedgerEntry")({
  id: Schema.String,
  transactionId: Schema.String,
  kind: EntryKind,
  amount: Schema.Int,
  balanceAfter: Schema.Int,
  creditId: Schema.NullOr(Schema.String),
  creditRemainingAfter: Schema.NullOr(Schema.Int),
  reference: Schema.String,
  source: Schema.NullOr(Schema.String),
  note: Schema.NullOr(Schema.String),
  createdAt: Schema.Date
}) {}

/** The result of a deposit; replayed as is for the same reference. @since 0.1.0 */
export class DepositResult extends Schema.Class<DepositResult>("DepositResult")({
  transactionId: Schema.String,
  wallet: WalletView
}) {}

/** The result of a withdrawal; replayed as is for the same reference. @since 0.1.0 */
export class WithdrawResult extends Schema.Class<WithdrawResult>("WithdrawResult")({
  transactionId: Schema.String,
  wallet: WalletView,
  fromCredits: Schema.Array(Schema.Struct({ creditId: Schema.String, amount: Schema.Int })),
  fromReal: Schema.Int
}) {}

/** The result of issuing a credit; replayed as is for the same reference. @since 0.1.0 */
export class CreditResult extends Schema.Class<CreditResult>("CreditResult")({
  transactionId: Schema.String,
  credit: CreditView,
  wallet: WalletView
}) {}
