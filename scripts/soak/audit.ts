/**
 * The soak's audit of the stored data, once the host is stopped, against what the clients were
 * answered:
 * - the ledger audit of test/support/audit.ts (balances and credit remainders replayed from the
 *   ledger in order, never negative, every operation with its entries);
 * - every 2xx answer's transaction is recorded once, under its reference, with the entries its
 *   answer and body describe, and with exactly one outbox event;
 * - every reference retried to success converged to one transaction (every 2xx answer for it gave
 *   the same id), and no reference is in the ledger under two transactions;
 * - a write answered 4xx recorded nothing (unless one of its attempts timed out and so may still
 *   have been running: then it is a note);
 * - no wallet event without its operation; one `wallet.credit_expired` event per expired credit.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { auditLedger } from "../../test/support/audit.js"
import type { WriteRecord } from "./load.js"

/** What the audit found. */
export interface StoreFindings {
  readonly violations: ReadonlyArray<string>
  readonly notes: ReadonlyArray<string>
  readonly wallets: number
  readonly credits: number
  readonly entries: number
  readonly operations: number
  readonly events: number
}

/** The outbox's event ids in outbox order. */
export const outboxIds: Effect.Effect<ReadonlyArray<string>, never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ id: string }>`SELECT id FROM c360_outbox ORDER BY seq`
  return rows.map((r) => String(r.id))
}).pipe(Effect.orDie)

const EVENT_OF: Record<string, string> = { deposit: "wallet.deposit", withdraw: "wallet.withdraw", credit: "wallet.virtual_credit" }

interface Entry {
  readonly transactionId: string
  readonly reference: string
  readonly kind: string
  readonly amount: number
}

/** Audits the database against `records`, the writes whose references start with `prefix`. */
export const auditStore = (
  records: ReadonlyArray<WriteRecord>,
  prefix: string
): Effect.Effect<StoreFindings, never, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const ledger = yield* auditLedger
    const violations: Array<string> = ledger.violations.map((v) => `ledger: ${v}`)
    const notes: Array<string> = []

    const ops = new Map(
      (yield* sql<Record<string, unknown>>`SELECT reference, transaction_id, kind FROM c360_wallet_operations`).map((r) => [
        String(r.reference),
        { transactionId: String(r.transaction_id), kind: String(r.kind) }
      ])
    )
    const entries: Array<Entry> = (yield* sql<Record<string, unknown>>`SELECT transaction_id, reference, kind, amount
      FROM c360_ledger_entries ORDER BY seq`).map((r) => ({
        transactionId: String(r.transaction_id),
        reference: String(r.reference),
        kind: String(r.kind),
        amount: Number(r.amount)
      }))
    const events = (yield* sql<Record<string, unknown>>`SELECT id, type, payload FROM c360_outbox ORDER BY seq`).map((r) => ({
      id: String(r.id),
      type: String(r.type),
      data: JSON.parse(String(r.payload)) as { transactionId?: unknown }
    }))

    const byTransaction = new Map<string, Array<Entry>>()
    const transactionsOfReference = new Map<string, Set<string>>()
    for (const e of entries) {
      byTransaction.set(e.transactionId, [...(byTransaction.get(e.transactionId) ?? []), e])
      if (e.kind !== "credit_expired") {
        const set = transactionsOfReference.get(e.reference) ?? new Set<string>()
        set.add(e.transactionId)
        transactionsOfReference.set(e.reference, set)
      }
    }
    const eventsOf = new Map<string, Array<string>>()
    let expiredEvents = 0
    for (const e of events) {
      if (e.type === "wallet.credit_expired") expiredEvents += 1
      if (!e.type.startsWith("wallet.") || e.type === "wallet.credit_expired") continue
      const tx = String(e.data.transactionId)
      eventsOf.set(tx, [...(eventsOf.get(tx) ?? []), e.type])
    }

    const known = new Map(records.map((r) => [r.reference, r]))
    const unresolved: Array<string> = []
    for (const record of records) {
      const ref = record.reference
      const final = record.final
      if (final === undefined) {
        unresolved.push(ref)
        continue
      }
      const op = ops.get(ref)
      if (final.status >= 400) {
        if (op !== undefined) {
          const message = `${ref}: answered ${final.status} ${final.code ?? ""}, yet recorded as ${op.transactionId}`
          if (record.timedOut) notes.push(`${message} (an earlier attempt timed out and may have committed after the answer)`)
          else violations.push(message)
        }
        continue
      }
      const txs = [...record.transactionIds]
      if (txs.length !== 1) {
        violations.push(`${ref}: 2xx answers with ${txs.length} different transaction ids (${txs.join(", ")})`)
        continue
      }
      const tx = txs[0]!
      if (op === undefined) {
        violations.push(`${ref}: answered ${final.status} (${tx}) but no operation is recorded: a lost write`)
        continue
      }
      if (op.transactionId !== tx) violations.push(`${ref}: answered ${tx}, recorded as ${op.transactionId}`)
      if (op.kind !== record.kind) violations.push(`${ref}: a ${record.kind}, recorded as a ${op.kind}`)
      const es = byTransaction.get(tx) ?? []
      if (es.length === 0) violations.push(`${ref}: answered ${tx}, which is not in the ledger`)
      if (es.some((e) => e.reference !== ref)) violations.push(`${ref}: ${tx}'s entries carry another reference`)
      const amount = record.body.amount
      if (record.kind === "deposit") {
        if (es.length !== 1 || es[0]!.kind !== "deposit" || es[0]!.amount !== amount) {
          violations.push(`${ref}: a deposit of ${amount}, in the ledger as ${JSON.stringify(es.map((e) => [e.kind, e.amount]))}`)
        }
      } else if (record.kind === "credit") {
        if (es.length !== 1 || es[0]!.kind !== "credit_issued" || es[0]!.amount !== amount) {
          violations.push(`${ref}: a credit of ${amount}, in the ledger as ${JSON.stringify(es.map((e) => [e.kind, e.amount]))}`)
        }
      } else {
        const answer = final.body as { fromReal?: unknown; fromCredits?: ReadonlyArray<{ amount?: unknown }> } | undefined
        const real = es.filter((e) => e.kind === "withdrawal")
        const spent = es.filter((e) => e.kind === "credit_spent")
        const sum = es.reduce((s, e) => s + e.amount, 0)
        const fromCredits = (answer?.fromCredits ?? []).reduce((s, c) => s + Number(c.amount), 0)
        if (real.length + spent.length !== es.length || real.length > 1 || sum !== -amount) {
          violations.push(`${ref}: a withdrawal of ${amount}, in the ledger as ${JSON.stringify(es.map((e) => [e.kind, e.amount]))}`)
        } else if (Number(answer?.fromReal) !== -(real[0]?.amount ?? 0) || fromCredits !== -spent.reduce((s, e) => s + e.amount, 0)) {
          violations.push(`${ref}: answered fromReal ${String(answer?.fromReal)} and ${fromCredits} from credits; the ledger says otherwise`)
        }
      }
      const evs = eventsOf.get(tx) ?? []
      if (evs.length !== 1 || evs[0] !== EVENT_OF[record.kind]) {
        violations.push(`${ref}: ${evs.length} outbox events for ${tx} (${evs.join(", ") || "none"})`)
      }
    }
    if (unresolved.length > 0) {
      violations.push(`${unresolved.length} writes never got a 2xx or 4xx answer, even once the host was stable: ${unresolved.slice(0, 5).join(", ")}…`)
    }
    for (const [ref, op] of ops) {
      if (ref.startsWith(prefix) && !known.has(ref)) violations.push(`${ref}: recorded (${op.transactionId}) but never sent`)
      if ((eventsOf.get(op.transactionId) ?? []).length === 0) violations.push(`${ref}: operation ${op.transactionId} has no outbox event`)
    }
    for (const [ref, txs] of transactionsOfReference) {
      if (txs.size > 1) violations.push(`${ref}: in the ledger under ${txs.size} transactions (${[...txs].join(", ")})`)
    }
    const opTransactions = new Set([...ops.values()].map((o) => o.transactionId))
    for (const [tx, types] of eventsOf) {
      if (!opTransactions.has(tx)) violations.push(`outbox: ${types.join(", ")} for ${tx}, which is no recorded operation`)
    }
    const expiredEntries = entries.filter((e) => e.kind === "credit_expired").length
    if (expiredEntries !== expiredEvents) {
      violations.push(`${expiredEntries} credit_expired entries but ${expiredEvents} wallet.credit_expired events`)
    }
    return {
      violations,
      notes,
      wallets: ledger.wallets,
      credits: ledger.credits,
      entries: ledger.entries,
      operations: ops.size,
      events: events.length
    }
  }).pipe(Effect.orDie)
