/**
 * Bank transfer storage: the port and its one SQL implementation (every engine), through the unit
 * of work. A transfer is inserted by a plain `INSERT` under the unique key `(provider, provider_id)`:
 * a concurrent delivery of the same id fails it, and its transaction runs again and finds the first.
 * A link sets `version` to the one read plus one: the version guard refuses the second of two staff
 * linking at once, whose transaction runs again and finds the transfer linked.
 *
 * @since 0.2.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type { Position } from "../kernel/Cursor.js"
import type { StorageError } from "../kernel/Errors.js"
import { instant, int, jsonColumn, textOrNull } from "../platform/sql/Columns.js"
import { corrupt, storage } from "../platform/sql/SqlFailure.js"
import { rerun, UnitOfWork } from "../platform/UnitOfWork.js"
import { type MergeContext, repoint } from "../customers/index.js"
import { BankTransfer, type TransferStatus } from "./Transfer.js"

/** Which transfers a staff list shows. @since 0.2.0 */
export type TransferList = "unlinked" | "pending"

/**
 * The transfer repository.
 *
 * @since 0.2.0
 */
export class TransferRepository extends Context.Tag("customer360/TransferRepository")<TransferRepository, {
  readonly findByProvider: (provider: string, providerId: string) => Effect.Effect<Option.Option<BankTransfer>, StorageError>
  readonly findById: (id: string) => Effect.Effect<Option.Option<BankTransfer>, StorageError>
  readonly insert: (transfer: BankTransfer) => Effect.Effect<void, StorageError>
  /** Writes the transfer's new state; its `version` must be the read one plus one. */
  readonly update: (transfer: BankTransfer) => Effect.Effect<void, StorageError>
  readonly list: (
    which: TransferList,
    page: { readonly offset: number; readonly limit: number }
  ) => Effect.Effect<{ readonly items: ReadonlyArray<BankTransfer>; readonly total: number }, StorageError>
  /** A customer's transfers, newest first (by transaction date), after `before`. */
  readonly forCustomer: (
    customerId: string,
    slice: { readonly before: Position | null; readonly limit: number }
  ) => Effect.Effect<ReadonlyArray<BankTransfer>, StorageError>
  /** How many transfers are linked to the customer now (a merge's plan, docs/merge.md). */
  readonly countForCustomer: (customerId: string) => Effect.Effect<number, StorageError>
  /**
   * Re-points every transfer linked to the merged profile to the survivor, set-based, each journaled
   * as `moved`; each one's `version` steps, so that a link planned on a read from before the merge
   * runs again (docs/merge.md).
   */
  readonly mergeInto: (context: MergeContext) => Effect.Effect<void, StorageError>
}>() {}

const decode = Schema.decodeUnknown(BankTransfer)

const toTransfer = (r: Record<string, unknown>) =>
  Effect.catchAll(
    decode({
      id: r.id,
      provider: r.provider,
      providerId: r.provider_id,
      gateway: r.gateway,
      accountNumber: r.account_number,
      subAccount: textOrNull(r.sub_account),
      providerCode: textOrNull(r.provider_code),
      content: r.content,
      transferType: r.transfer_type,
      amount: int(r.amount),
      accumulated: r.accumulated === null || r.accumulated === undefined ? null : int(r.accumulated),
      referenceCode: textOrNull(r.reference_code),
      transactionDate: instant(r.transaction_date),
      receivedAt: instant(r.received_at),
      status: r.status,
      customerId: textOrNull(r.customer_id),
      match: {
        by: textOrNull(r.match_by),
        reason: r.match_reason,
        candidates: jsonColumn(r.candidates),
        explanation: r.explanation
      },
      depositTransactionId: textOrNull(r.deposit_transaction_id),
      linkedAt: instant(r.linked_at),
      linkedBy: textOrNull(r.linked_by),
      raw: jsonColumn(r.raw),
      version: int(r.version)
    }),
    corrupt("reading a bank transfer")
  )

const ms = (d: Date | null) => (d === null ? null : d.getTime())

const row = (t: BankTransfer) => ({
  id: t.id,
  provider: t.provider,
  provider_id: t.providerId,
  gateway: t.gateway,
  account_number: t.accountNumber,
  sub_account: t.subAccount,
  provider_code: t.providerCode,
  content: t.content,
  transfer_type: t.transferType,
  amount: t.amount,
  accumulated: t.accumulated,
  reference_code: t.referenceCode,
  transaction_date: t.transactionDate.getTime(),
  received_at: t.receivedAt.getTime(),
  status: t.status,
  customer_id: t.customerId,
  match_by: t.match.by,
  match_reason: t.match.reason,
  candidates: JSON.stringify(t.match.candidates),
  explanation: t.match.explanation,
  deposit_transaction_id: t.depositTransactionId,
  linked_at: ms(t.linkedAt),
  linked_by: t.linkedBy,
  raw: JSON.stringify(t.raw ?? null),
  version: t.version
})

const memoKey = (id: string) => `transfer:id:${id}`

/** @since 0.2.0 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork

  const one = (rows: ReadonlyArray<Record<string, unknown>>) =>
    rows.length === 0 ? Effect.succeed(Option.none<BankTransfer>()) : Effect.map(toTransfer(rows[0]!), Option.some)

  const findByProvider = (provider: string, providerId: string) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_bank_transfers WHERE provider = ${provider} AND provider_id = ${providerId}`
      .pipe(storage("reading a bank transfer"), Effect.flatMap(one))

  const findById = (id: string) =>
    Effect.flatMap(uow.recall<BankTransfer>(memoKey(id)), (remembered) =>
      remembered !== undefined
        ? Effect.succeed(Option.some(remembered))
        : sql<Record<string, unknown>>`SELECT * FROM c360_bank_transfers WHERE id = ${id}`.pipe(
          storage("reading a bank transfer"),
          Effect.flatMap(one)
        ))

  const insert = (t: BankTransfer) =>
    uow.write<never>({
      operation: "recording a bank transfer",
      statements: [sql`INSERT INTO c360_bank_transfers ${sql.insert(row(t))}`],
      // the same delivery, recorded meanwhile by another request: run again, and find it
      onFailure: (f) => (f._tag === "UniqueViolation" && f.constraint.includes("provider") ? rerun : undefined)
    }).pipe(Effect.zipRight(uow.remember(memoKey(t.id), t)))

  const update = (t: BankTransfer) => {
    const { id: _id, provider: _p, provider_id: _pid, raw: _raw, ...columns } = row(t)
    return uow.write<never>({
      operation: "linking a bank transfer",
      statements: [sql`UPDATE c360_bank_transfers SET ${sql.update(columns)} WHERE id = ${t.id}`],
      onFailure: (f) => (f._tag === "StaleWrite" ? rerun : undefined)
    }).pipe(Effect.zipRight(uow.remember(memoKey(t.id), t)))
  }

  const list = (which: TransferList, page: { readonly offset: number; readonly limit: number }) => {
    const where = which === "pending" ? sql`status = ${"pending" satisfies TransferStatus}` : sql`customer_id IS NULL`
    return Effect.all({
      rows: sql<Record<string, unknown>>`SELECT * FROM c360_bank_transfers WHERE ${where}
        ORDER BY transaction_date DESC, id DESC LIMIT ${page.limit} OFFSET ${page.offset}`,
      count: sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_bank_transfers WHERE ${where}`
    }).pipe(
      storage("listing bank transfers"),
      Effect.flatMap(({ count, rows }) =>
        Effect.map(Effect.forEach(rows, toTransfer), (items) => ({ items, total: int(count[0]?.n ?? 0) }))
      )
    )
  }

  const forCustomer = (customerId: string, slice: { readonly before: Position | null; readonly limit: number }) =>
    sql<Record<string, unknown>>`SELECT * FROM c360_bank_transfers WHERE customer_id = ${customerId}
      AND ${slice.before === null ? sql`1 = 1` : sql`(transaction_date < ${slice.before.at}
        OR (transaction_date = ${slice.before.at} AND id < ${slice.before.id}))`}
      ORDER BY transaction_date DESC, id DESC LIMIT ${slice.limit}`.pipe(
      storage("reading a customer's bank transfers"),
      Effect.flatMap((rows) => Effect.forEach(rows, toTransfer))
    )

  const countForCustomer = (customerId: string) =>
    sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_bank_transfers WHERE customer_id = ${customerId}`.pipe(
      storage("counting a customer's transfers"),
      Effect.map((rows) => int(rows[0]?.n ?? 0))
    )

  const mergeInto = (context: MergeContext) => {
    const [journal] = repoint(sql, context, { part: "transfers", table: "c360_bank_transfers" })
    return uow.write<never>({
      operation: "moving bank transfers to a merge's survivor",
      statements: [
        journal!,
        sql`UPDATE c360_bank_transfers SET customer_id = ${context.survivor.id}, version = version + 1
          WHERE customer_id = ${context.merged.id}`
      ]
    }).pipe(
      // what this transaction remembered of transfers names their old customer
      Effect.zipRight(uow.forget("transfer:"))
    )
  }

  return TransferRepository.of({ findByProvider, findById, insert, update, list, forCustomer, countForCustomer, mergeInto })
})

/** @since 0.2.0 */
export const layer: Layer.Layer<TransferRepository, never, SqlClient.SqlClient | UnitOfWork> = Layer.effect(
  TransferRepository,
  make
)
