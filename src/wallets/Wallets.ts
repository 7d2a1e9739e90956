/**
 * The wallet use cases of DOMAIN §3: deposit, withdraw (credits first, FIFO by expiry), issue
 * virtual credits, read the wallet and its ledger, expire credits. Inputs are decoded here; every
 * write is planned by the pure rules of `Wallet.ts` and committed by the `WalletStore` at most
 * once per `reference`, with its event in the same transaction.
 *
 * The rules, in full: docs/wallets.md.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { type CustomerNotFound, isCanonicalText, Text } from "../customers/index.js"
import { type StorageError, ValidationError } from "../kernel/Errors.js"
import type * as Events from "../kernel/Events.js"
import type { DomainEvent } from "../kernel/Events.js"
import { encodeId } from "../kernel/Ids.js"
import { InvalidAmount, type Money, money } from "../kernel/Money.js"
import * as Phone from "../kernel/Phone.js"
import { decoder } from "../kernel/Input.js"
import { corrupt } from "../platform/sql/SqlFailure.js"
import { withSpans } from "../kernel/Spans.js"
import { randomBytes as randomBytesOf } from "../kernel/Random.js"
import {
  creditView,
  CreditResult,
  DEFAULT_CREDIT_DAYS,
  DepositResult,
  DepositSource,
  type IdempotencyConflict,
  type InsufficientFunds,
  LedgerEntry,
  makeCreditId,
  makeTransactionId,
  planWithdrawal,
  totalsStaySafe,
  type VirtualCredit,
  walletView,
  type WalletView,
  WithdrawResult
} from "./Wallet.js"
import type { NewEntry, WalletChange } from "./WalletStore.js"
import { WalletStore } from "./WalletStore.js"
import { Customer360Config } from "../kernel/Config.js"

/** The event of one credit's expiry (the events module's). @since 0.1.0 */
export type WalletCreditExpired = Events.WalletCreditExpired

/**
 * Input of `deposit`. `reference` is the idempotency key (a bank transaction id, a receipt
 * number): the same reference with the same payload returns the first result; with another payload
 * it fails `IdempotencyConflict`.
 *
 * @since 0.1.0
 */
export interface DepositInput {
  readonly phone: string
  readonly amount: number
  readonly reference: string
  readonly source: DepositSource
  readonly note?: string | null | undefined
}

/** Input of `withdraw`. @since 0.1.0 */
export interface WithdrawInput {
  readonly phone: string
  readonly amount: number
  readonly reference: string
  readonly note?: string | null | undefined
}

/**
 * Input of `issueVirtualCredit`: the credit expires `expiresInDays` days after issue (default 15),
 * or at `expiresAt` (a `Date` or ISO string after now) — not both.
 *
 * @since 0.1.0
 */
export interface IssueCreditInput {
  readonly phone: string
  readonly amount: number
  readonly reason: string
  readonly reference: string
  readonly expiresInDays?: number | undefined
  readonly expiresAt?: Date | string | undefined
  readonly ticketId?: string | null | undefined
}

/** One page of ledger entries, newest first; pass `nextCursor` back to read on. @since 0.1.0 */
export interface TransactionsPage {
  readonly items: ReadonlyArray<LedgerEntry>
  readonly nextCursor: string | null
}

type WriteError = Phone.InvalidPhone | ValidationError | InvalidAmount | CustomerNotFound | IdempotencyConflict | StorageError

/**
 * The wallet service.
 *
 * @since 0.1.0
 */
export interface WalletsShape {
  /** The wallet of the customer holding the phone, as of now. */
  readonly get: (phone: string) => Effect.Effect<WalletView, Phone.InvalidPhone | ValidationError | CustomerNotFound | StorageError>
  /** Adds to the real balance. */
  readonly deposit: (input: DepositInput) => Effect.Effect<DepositResult, WriteError>
  /**
   * Takes `amount` from the spendable credits (earliest expiry first) and then the real balance, all
   * or nothing; `InsufficientFunds` changes nothing.
   */
  readonly withdraw: (input: WithdrawInput) => Effect.Effect<WithdrawResult, WriteError | InsufficientFunds>
  /** Issues a virtual credit. */
  readonly issueVirtualCredit: (input: IssueCreditInput) => Effect.Effect<CreditResult, WriteError>
  /** Ledger entries of the wallet, newest first; `limit` 1–200 (default 50). */
  readonly transactions: (
    phone: string,
    options?: { readonly limit?: number | undefined; readonly cursor?: string | null | undefined }
  ) => Effect.Effect<TransactionsPage, Phone.InvalidPhone | ValidationError | CustomerNotFound | StorageError>
  /**
   * The ledger entries of a customer's wallet, newest first, each with its position (`seq`,
   * increasing in commit order per wallet); `before` reads on after a position. For the timeline.
   */
  readonly ledgerOf: (
    customerId: string,
    options: { readonly before: number | null; readonly limit: number }
  ) => Effect.Effect<ReadonlyArray<{ readonly seq: number; readonly entry: LedgerEntry }>, StorageError>
  /**
   * Expires every credit due at the configured clock's now, in transactions of about `batchSize`
   * credits (default 5000), until none is left or `maxBatches` have run. Safe to run twice or on two
   * processes at once: each credit is expired once.
   */
  readonly expireCredits: (options?: {
    readonly batchSize?: number
    readonly maxBatches?: number
  }) => Effect.Effect<{ readonly expired: number; readonly amount: number }, ValidationError | StorageError>
}

/** The Wallets service. @since 0.1.0 */
export class Wallets extends Context.Tag("customer360/Wallets")<Wallets, WalletsShape>() {}


const Reference = Text(200)
const Note = Schema.optional(Schema.NullOr(Text(500)))

/** @internal The deposit input decoder, schema only. */
export const decodeDepositBySchema = decoder(
  Schema.Struct({ phone: Schema.String, amount: Schema.Unknown, reference: Reference, source: DepositSource, note: Note }),
  "deposit"
)
/** @internal The withdrawal input decoder, schema only. */
export const decodeWithdrawBySchema = decoder(
  Schema.Struct({ phone: Schema.String, amount: Schema.Unknown, reference: Reference, note: Note }),
  "withdrawal"
)

/**
 * The fields of a plain object (`Object.prototype` its prototype, no symbol keys) whose keys are all
 * among `keys`, read once each; `undefined` for anything else.
 */
const plainFields = (raw: unknown, keys: ReadonlyArray<string>): Record<string, unknown> | undefined => {
  if (typeof raw !== "object" || raw === null || Object.getPrototypeOf(raw) !== Object.prototype) return undefined
  const own = Object.keys(raw)
  if (own.length > keys.length || Object.getOwnPropertySymbols(raw).length > 0) return undefined
  const fields: Record<string, unknown> = {}
  for (const k of own) {
    if (!keys.includes(k)) return undefined
    fields[k] = (raw as Record<string, unknown>)[k]
  }
  return fields
}

const isNote = (u: unknown) => u === undefined || u === null || isCanonicalText(u, 500)

/**
 * Write inputs that are already canonical (a plain object with the known keys, every text already
 * trimmed and valid) are taken as they are — exactly what the schema would decode them to — without
 * running the schema, whose generic steps cost more than the rest of a withdrawal's checks; anything
 * else (to be trimmed, or wrong) goes through the schema, which decodes it or says what is wrong.
 * Property-tested to agree with the schema.
 */
const canonicalOr = <A>(keys: ReadonlyArray<string>, canonical: (f: Record<string, unknown>) => boolean, bySchema: (raw: unknown) => Either.Either<A, ValidationError>) =>
(raw: unknown): Either.Either<A, ValidationError> => {
  const f = plainFields(raw, keys)
  return f !== undefined && "phone" in f && "amount" in f && "reference" in f && canonical(f)
    ? Either.right(f as A)
    : bySchema(raw)
}

/** @internal */
export const decodeDeposit = canonicalOr(
  ["phone", "amount", "reference", "source", "note"],
  (f) =>
    typeof f.phone === "string" && isCanonicalText(f.reference, 200) && isNote(f.note) &&
    (f.source === "bank_transfer" || f.source === "manual" || f.source === "refund"),
  decodeDepositBySchema
)
/** @internal */
export const decodeWithdraw = canonicalOr(
  ["phone", "amount", "reference", "note"],
  (f) => typeof f.phone === "string" && isCanonicalText(f.reference, 200) && isNote(f.note),
  decodeWithdrawBySchema
)
const decodeCredit = decoder(
  Schema.Struct({
    phone: Schema.String,
    amount: Schema.Unknown,
    reason: Text(500),
    reference: Reference,
    expiresInDays: Schema.optional(Schema.Int.pipe(Schema.between(1, 3650))),
    expiresAt: Schema.optional(Schema.Union(Schema.ValidDateFromSelf, Schema.Date)),
    ticketId: Schema.optional(Schema.NullOr(Text(100)))
  }),
  "virtual credit"
)
const decodePage = decoder(
  Schema.Struct({
    limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 200))),
    cursor: Schema.optional(Schema.NullOr(Schema.String.pipe(Schema.pattern(/^\d{1,15}$/, { message: () => "must be a cursor returned by a previous page" }))))
  }),
  "transactions query"
)
const decodeJob = decoder(
  Schema.Struct({
    batchSize: Schema.optional(Schema.Int.pipe(Schema.between(1, 100_000))),
    maxBatches: Schema.optional(Schema.Int.pipe(Schema.between(1, Number.MAX_SAFE_INTEGER)))
  }),
  "job options"
)
const decodePhoneString = decoder(Schema.String, "phone")

const DAY = 86_400_000

/**
 * Decodes a recorded result (stored as the JSON of the result object: instants as ISO strings);
 * one that does not decode is corrupt storage.
 */
const result = <A, I>(schema: Schema.Schema<A, I>) => {
  const decode = Schema.decodeUnknown(schema)
  return (json: unknown): Effect.Effect<A, StorageError> =>
    Effect.catchAll(decode(json), corrupt("reading a recorded wallet result"))
}
const depositResult = result(DepositResult)
const withdrawResult = result(WithdrawResult)
const creditResult = result(CreditResult)

const entryId = (transactionId: string, i: number) => `le_${transactionId.slice(4)}_${i}`

type WalletEvent = Extract<DomainEvent, { readonly channel: "wallets" }>

/** A wallet event about `subject` at `at`, with a fresh unique id. */
const walletEvent = <T extends WalletEvent["type"]>(
  type: T,
  subject: string,
  at: Date,
  data: Extract<WalletEvent, { readonly type: T }>["data"]
): WalletEvent =>
  ({ id: encodeId("evt", at.getTime(), randomBytesOf(10)), type, channel: "wallets", subject, occurredAt: at, data }) as WalletEvent

/**
 * Builds the service from its ports.
 *
 * @since 0.1.0
 */
export const make = Effect.gen(function*() {
  const store = yield* WalletStore
  const config = yield* Customer360Config

  const normalizePhone = (raw: string) => Effect.suspend(() => Phone.normalize(raw, config.phone))
  const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

  /**
   * The common start of every write, as one step on the hot path: the clock is read once (the write's
   * instant and its ids' time), then the input is decoded, the amount and the phone checked — in that
   * order, each failure typed — and `write` builds the rest.
   */
  const writeWith = <I extends { readonly phone: string; readonly amount: unknown }, A, E>(
    decode: (raw: unknown) => Either.Either<I, ValidationError>,
    raw: unknown,
    write: (input: I, amount: Money, phone: Phone.Phone, millis: number) => Effect.Effect<A, E>
  ): Effect.Effect<A, E | ValidationError | InvalidAmount | Phone.InvalidPhone> =>
    Effect.flatMap(Clock.currentTimeMillis, (millis): Effect.Effect<A, E | ValidationError | InvalidAmount | Phone.InvalidPhone> => {
      const input = decode(raw)
      if (Either.isLeft(input)) return Effect.fail(input.left)
      const amount = money(input.right.amount)
      if (Either.isLeft(amount)) return Effect.fail(amount.left)
      const phone = Phone.normalize(input.right.phone, config.phone)
      if (Either.isLeft(phone)) return Effect.fail(phone.left)
      return write(input.right, amount.right, phone.right, millis)
    })

  const get: WalletsShape["get"] = (raw) =>
    Effect.gen(function*() {
      const phone = yield* Effect.flatMap(decodePhoneString(raw), normalizePhone)
      const state = yield* store.load({ phone })
      return walletView(state, yield* now)
    })

  const deposit: WalletsShape["deposit"] = (raw) =>
    writeWith(decodeDeposit, raw, (input, amount, phone, ms) => {
      const at = new Date(ms)
      const transactionId = makeTransactionId(ms, randomBytesOf(10))
      const note = input.note ?? null
      let planned: DepositResult | undefined
      return Effect.flatMap(store.apply({
        wallet: { phone },
        reference: input.reference,
        kind: "deposit",
        fingerprint: JSON.stringify([phone, amount, input.source, note]),
        plan: (state): Either.Either<WalletChange, InvalidAmount> => {
          const balanceAfter = state.balance + amount
          if (!totalsStaySafe(balanceAfter, state.credits)) {
            return Either.left(new InvalidAmount({ reason: "too_large", input: String(amount) }))
          }
          const entry: NewEntry = {
            id: entryId(transactionId, 0),
            kind: "deposit",
            amount,
            balanceAfter,
            creditId: null,
            creditRemainingAfter: null,
            source: input.source,
            note
          }
          const wallet = walletView({ ...state, balance: balanceAfter }, at)
          return Either.right({
            transactionId,
            balanceAfter,
            creditUpdates: [],
            newCredits: [],
            entries: [entry],
            events: [walletEvent("wallet.deposit", state.customerId, at, { transactionId, amount, source: input.source, reference: input.reference, balanceAfter })],
            result: (planned = new DepositResult({ transactionId, wallet }, true)),
            at
          })
        }
      }), (outcome) => (outcome.replayed || planned === undefined ? depositResult(outcome.result) : Effect.succeed(planned)))
    })

  const withdraw: WalletsShape["withdraw"] = (raw) =>
    writeWith(decodeWithdraw, raw, (input, amount, phone, ms) => {
      const at = new Date(ms)
      const transactionId = makeTransactionId(ms, randomBytesOf(10))
      const note = input.note ?? null
      let planned: WithdrawResult | undefined
      return Effect.flatMap(store.apply({
        wallet: { phone },
        reference: input.reference,
        kind: "withdraw",
        fingerprint: JSON.stringify([phone, amount, note]),
        plan: (state) =>
          Either.map(planWithdrawal(state, state.credits, amount, at), (plan): WalletChange => {
            const entries: Array<NewEntry> = plan.fromCredits.map((part, i) => ({
              id: entryId(transactionId, i),
              kind: "credit_spent",
              amount: -part.amount,
              balanceAfter: state.balance,
              creditId: part.creditId,
              creditRemainingAfter: part.remainingAfter,
              source: null,
              note
            }))
            if (plan.fromReal > 0) {
              entries.push({
                id: entryId(transactionId, entries.length),
                kind: "withdrawal",
                amount: -plan.fromReal,
                balanceAfter: plan.balanceAfter,
                creditId: null,
                creditRemainingAfter: null,
                source: null,
                note
              })
            }
            const spent = new Map(plan.fromCredits.map((p) => [p.creditId as string, p.remainingAfter]))
            const credits = state.credits.map((c): VirtualCredit => {
              const remaining = spent.get(c.id)
              return remaining === undefined ? c : { ...c, remaining, status: remaining === 0 ? "consumed" : "active" }
            })
            const fromCredits = plan.fromCredits.map((p) => ({ creditId: p.creditId as string, amount: p.amount }))
            const wallet = walletView({ ...state, balance: plan.balanceAfter, credits }, at)
            return {
              transactionId,
              balanceAfter: plan.balanceAfter,
              creditUpdates: plan.fromCredits.map((p) => ({
                id: p.creditId,
                remaining: p.remainingAfter,
                status: p.remainingAfter === 0 ? "consumed" : "active"
              })),
              newCredits: [],
              entries,
              events: [walletEvent("wallet.withdraw", state.customerId, at, { transactionId, amount, fromCredits, fromReal: plan.fromReal, reference: input.reference, balanceAfter: plan.balanceAfter })],
              result: (planned = new WithdrawResult({ transactionId, wallet, fromCredits, fromReal: plan.fromReal }, true)),
              at
            }
          })
      }), (outcome) => (outcome.replayed || planned === undefined ? withdrawResult(outcome.result) : Effect.succeed(planned)))
    })

  const issueVirtualCredit: WalletsShape["issueVirtualCredit"] = (raw) =>
    writeWith(decodeCredit, raw, (input, amount, phone, ms) => {
      const at = new Date(ms)
      if (input.expiresAt !== undefined && input.expiresInDays !== undefined) {
        return ValidationError.single("expiresAt", "give expiresAt or expiresInDays, not both")
      }
      // a copy of a given Date: the caller may change theirs afterwards
      const expiresAt = new Date(input.expiresAt?.getTime() ?? ms + (input.expiresInDays ?? DEFAULT_CREDIT_DAYS) * DAY)
      const transactionId = makeTransactionId(ms, randomBytesOf(10))
      const creditId = makeCreditId(ms, randomBytesOf(10))
      const ticketId = input.ticketId ?? null
      let planned: CreditResult | undefined
      return Effect.flatMap(store.apply({
        wallet: { phone },
        reference: input.reference,
        kind: "credit",
        fingerprint: JSON.stringify([
          phone, amount, input.reason, ticketId,
          input.expiresAt === undefined ? ["days", input.expiresInDays ?? DEFAULT_CREDIT_DAYS] : ["at", expiresAt.toISOString()]
        ]),
        plan: (state): Either.Either<WalletChange, ValidationError | InvalidAmount> => {
          // Checked here, after the reference: a retry of a recorded issue replays even once its
          // absolute expiresAt has passed.
          if (expiresAt.getTime() <= at.getTime()) {
            return Either.left(ValidationError.single("expiresAt", "must be after now"))
          }
          if (!totalsStaySafe(state.balance, state.credits, amount)) {
            return Either.left(new InvalidAmount({ reason: "too_large", input: String(amount) }))
          }
          const credit: VirtualCredit = {
            id: creditId,
            amount,
            remaining: amount,
            issuedAt: at,
            expiresAt,
            status: "active",
            reason: input.reason,
            ticketId
          }
          const wallet = walletView({ ...state, credits: [...state.credits, credit] }, at)
          return Either.right<WalletChange>({
            transactionId,
            balanceAfter: state.balance,
            creditUpdates: [],
            newCredits: [credit],
            entries: [{
              id: entryId(transactionId, 0),
              kind: "credit_issued",
              amount,
              balanceAfter: state.balance,
              creditId,
              creditRemainingAfter: amount,
              source: null,
              note: input.reason
            }],
            events: [walletEvent("wallet.virtual_credit", state.customerId, at, { transactionId, creditId, amount, reason: input.reason, ticketId, expiresAt: expiresAt.toISOString(), reference: input.reference })],
            result: (planned = new CreditResult({ transactionId, credit: creditView(credit, at), wallet }, true)),
            at
          })
        }
      }), (outcome) => (outcome.replayed || planned === undefined ? creditResult(outcome.result) : Effect.succeed(planned)))
    })

  const transactions: WalletsShape["transactions"] = (raw, options) =>
    Effect.gen(function*() {
      const phone = yield* Effect.flatMap(decodePhoneString(raw), normalizePhone)
      const query = yield* decodePage(options ?? {})
      const limit = query.limit ?? 50
      const state = yield* store.load({ phone })
      const { items } = yield* store.entries(state.customerId, {
        limit,
        before: query.cursor == null ? null : Number(query.cursor)
      })
      const last = items[items.length - 1]
      return {
        items: items.map(({ seq: _, ...entry }) => new LedgerEntry(entry)),
        nextCursor: items.length === limit && last !== undefined ? String(last.seq) : null
      }
    })

  const expireCredits: WalletsShape["expireCredits"] = (options) =>
    Effect.gen(function*() {
      const job = yield* decodeJob(options ?? {})
      return yield* store.expire(yield* now, {
        batchSize: job.batchSize ?? 5000,
        maxBatches: job.maxBatches ?? Number.MAX_SAFE_INTEGER
      })
    })

  const ledgerOf: WalletsShape["ledgerOf"] = (customerId, options) =>
    Effect.map(
      store.entries(customerId, options),
      ({ items }) => items.map(({ seq, ...entry }) => ({ seq, entry: new LedgerEntry(entry) }))
    )

  return Wallets.of(withSpans("Wallets", { get, deposit, withdraw, issueVirtualCredit, transactions, ledgerOf, expireCredits }))
})

/**
 * The service as a layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Wallets, never, WalletStore | Customer360Config> = Layer.effect(Wallets, make)
