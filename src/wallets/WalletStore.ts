/**
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import type { CustomerNotFound } from "../customers/Customer.js"
import type { StorageError } from "../kernel/Errors.js"
import type { DomainEvent } from "../kernel/Events.js"
import type { Phone } from "../kernel/Phone.js"
import type { EntryKind, IdempotencyConflict, LedgerEntry, VirtualCredit, WalletState } from "./Wallet.js"

/** Which wallet: by the customer's canonical phone or id. @since 0.1.0 */
export type WalletKey = { readonly phone: Phone } | { readonly customerId: string }

/** A ledger entry to append. @since 0.1.0 */
export interface NewEntry {
  readonly id: string
  readonly kind: EntryKind
  readonly amount: number
  readonly balanceAfter: number
  readonly creditId: string | null
  readonly creditRemainingAfter: number | null
  readonly source: string | null
  readonly note: string | null
}

/**
 * Everything one operation writes, planned purely from a {@link WalletState}: the new real balance,
 * credit remainders, new credits, ledger entries (in order), events, and the result to replay for
 * the same reference.
 *
 * @since 0.1.0
 */
export interface WalletChange {
  readonly transactionId: string
  readonly balanceAfter: number
  readonly creditUpdates: ReadonlyArray<{ readonly id: string; readonly remaining: number; readonly status: "active" | "consumed" }>
  readonly newCredits: ReadonlyArray<VirtualCredit>
  readonly entries: ReadonlyArray<NewEntry>
  readonly events: ReadonlyArray<DomainEvent>
  /** The result; its JSON is stored with the reference and returned to a replay. */
  readonly result: unknown
  readonly at: Date
}

/**
 * An idempotent wallet write: `fingerprint` is the canonical payload; `plan` decides the change
 * (or a domain failure) from the state it is given, without I/O.
 *
 * @since 0.1.0
 */
export interface WalletRequest<E> {
  readonly wallet: WalletKey
  readonly reference: string
  readonly kind: "deposit" | "withdraw" | "credit"
  readonly fingerprint: string
  readonly plan: (state: WalletState) => Either.Either<WalletChange, E>
}

/**
 * Storage of wallets, credits, the ledger and the idempotency records.
 *
 * @since 0.1.0
 */
export interface WalletStore {
  /**
   * Runs a request atomically and at most once per reference: when the reference is already
   * recorded with the same kind and fingerprint, returns its stored result (`replayed: true`) and
   * writes nothing; with another payload, fails `IdempotencyConflict`. Otherwise plans against the
   * current state and commits the change only if the wallet did not change meanwhile (row lock or
   * version check), retrying contention a bounded number of times; a failed plan writes nothing.
   */
  readonly apply: <E>(
    request: WalletRequest<E>
  ) => Effect.Effect<
    { readonly replayed: boolean; readonly result: unknown },
    E | CustomerNotFound | IdempotencyConflict | StorageError
  >
  /** The wallet's current state (credits: the active ones). */
  readonly load: (wallet: WalletKey) => Effect.Effect<WalletState, CustomerNotFound | StorageError>
  /** Ledger entries, newest first, strictly before `before` (an entry sequence number). */
  readonly entries: (
    customerId: string,
    options: { readonly limit: number; readonly before: number | null }
  ) => Effect.Effect<{ readonly items: ReadonlyArray<LedgerEntry & { readonly seq: number }> }, StorageError>
  /**
   * Expires the credits due at `now` (active, `expiresAt <= now`) in transactions of about
   * `batchSize` credits (on PostgreSQL: every due credit of the wallets of the first `batchSize` due
   * credits), until none is left or `maxBatches` have run: each credit's remainder leaves the wallet
   * as one `credit_expired` entry and one `wallet.credit_expired` event. Safe to run concurrently:
   * each credit is expired once. Other writes get in between batches.
   */
  readonly expire: (
    now: Date,
    options: { readonly batchSize: number; readonly maxBatches: number }
  ) => Effect.Effect<{ readonly expired: number; readonly amount: number }, StorageError>
}

/** @since 0.1.0 */
export const WalletStore: Context.Tag<WalletStore, WalletStore> = Context.GenericTag<WalletStore>("customer360/WalletStore")
