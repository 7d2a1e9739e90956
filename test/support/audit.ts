/** Every table a customer or wallet write touches. */
export const WRITTEN_TABLES = [
  "c360_customers",
  "c360_wallets",
  "c360_virtual_credits",
  "c360_wallet_operations",
  "c360_ledger_entries",
  "c360_outbox",
  "c360_notes",
  "c360_activities",
  "c360_ticket_counters",
  "c360_tickets",
  "c360_ticket_actions",
  "c360_ticket_stats",
  "c360_bank_transfers",
  "c360_purchases",
  "c360_purchase_items",
  "c360_purchase_returns",
  "c360_rfm",
  "c360_rfm_quantiles",
  "c360_fraud_rules",
  "c360_fraud_runs",
  "c360_fraud_decisions",
  "c360_fraud_flags",
  "c360_merges",
  "c360_merge_rows"
] as const

/**
 * The ledger auditor: rebuilds every wallet and credit from its ledger entries, in order, and
 * compares with what is stored (DOMAIN §3 invariants). Returns the violations found (none is good).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

const int = (v: unknown) => Number(v)

export interface AuditReport {
  readonly violations: ReadonlyArray<string>
  readonly wallets: number
  readonly credits: number
  readonly entries: number
}

export const auditLedger: Effect.Effect<AuditReport, never, SqlClient.SqlClient> = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const wallets = yield* sql<Record<string, unknown>>`SELECT customer_id, balance FROM c360_wallets`
  const credits = yield* sql<Record<string, unknown>>`SELECT id, customer_id, amount, remaining, expired_amount,
    merged_amount, merged_to, status FROM c360_virtual_credits`
  const entries = yield* sql<Record<string, unknown>>`SELECT seq, transaction_id, customer_id, kind, amount,
    balance_after, credit_id, credit_remaining_after FROM c360_ledger_entries ORDER BY seq`
  const operations = yield* sql<Record<string, unknown>>`SELECT transaction_id, customer_id FROM c360_wallet_operations`
  const violations: Array<string> = []

  const realBalance = new Map<string, number>()
  const creditRemaining = new Map<string, number>()
  const creditExpired = new Map<string, number>()
  const creditSpent = new Map<string, number>()
  const creditMerged = new Map<string, number>()
  const creditOwner = new Map(credits.map((c) => [String(c.id), String(c.customer_id)]))
  for (const e of entries) {
    const wallet = String(e.customer_id)
    const amount = int(e.amount)
    const kind = String(e.kind)
    if (kind === "deposit" || kind === "withdrawal" || kind === "merge_in" || kind === "merge_out") {
      if ((kind === "deposit" || kind === "merge_in") !== amount > 0) violations.push(`entry ${e.seq}: ${kind} with amount ${amount}`)
      const next = (realBalance.get(wallet) ?? 0) + amount
      realBalance.set(wallet, next)
      if (next < 0) violations.push(`wallet ${wallet}: real balance ${next} < 0 after entry ${e.seq}`)
      if (next !== int(e.balance_after)) violations.push(`entry ${e.seq}: balance_after ${e.balance_after}, replay says ${next}`)
    } else {
      const credit = String(e.credit_id)
      if (creditOwner.get(credit) !== wallet) violations.push(`entry ${e.seq}: credit ${credit} is not wallet ${wallet}'s`)
      const issuing = kind === "credit_issued" || kind === "credit_merged_in"
      if (issuing !== amount > 0) violations.push(`entry ${e.seq}: ${kind} with amount ${amount}`)
      if (issuing && creditRemaining.has(credit)) violations.push(`credit ${credit} issued twice`)
      const next = (creditRemaining.get(credit) ?? 0) + amount
      creditRemaining.set(credit, next)
      if (kind === "credit_expired") creditExpired.set(credit, (creditExpired.get(credit) ?? 0) - amount)
      if (kind === "credit_spent") creditSpent.set(credit, (creditSpent.get(credit) ?? 0) - amount)
      if (kind === "credit_merged_out") creditMerged.set(credit, (creditMerged.get(credit) ?? 0) - amount)
      if (next < 0) violations.push(`credit ${credit}: remaining ${next} < 0 after entry ${e.seq}`)
      if (next !== int(e.credit_remaining_after)) {
        violations.push(`entry ${e.seq}: credit_remaining_after ${e.credit_remaining_after}, replay says ${next}`)
      }
      if (int(e.balance_after) !== (realBalance.get(wallet) ?? 0)) {
        violations.push(`entry ${e.seq}: balance_after ${e.balance_after} but the real balance is ${realBalance.get(wallet) ?? 0}`)
      }
    }
  }
  for (const w of wallets) {
    const id = String(w.customer_id)
    const stored = int(w.balance)
    if (stored < 0) violations.push(`wallet ${id}: stored balance ${stored} < 0`)
    if (stored !== (realBalance.get(id) ?? 0)) violations.push(`wallet ${id}: stored ${stored}, ledger says ${realBalance.get(id) ?? 0}`)
  }
  for (const c of credits) {
    const id = String(c.id)
    const remaining = int(c.remaining)
    const amount = int(c.amount)
    const expired = creditExpired.get(id) ?? 0
    const spent = creditSpent.get(id) ?? 0
    if (remaining !== (creditRemaining.get(id) ?? 0)) violations.push(`credit ${id}: stored ${remaining}, ledger says ${creditRemaining.get(id)}`)
    const merged = creditMerged.get(id) ?? 0
    if (remaining !== amount - spent - expired - merged) {
      violations.push(`credit ${id}: remaining ${remaining} ≠ ${amount} − ${spent} − ${expired} − ${merged}`)
    }
    if (int(c.expired_amount) !== expired) violations.push(`credit ${id}: expired_amount ${c.expired_amount}, ledger says ${expired}`)
    if (int(c.merged_amount ?? 0) !== merged) violations.push(`credit ${id}: merged_amount ${c.merged_amount}, ledger says ${merged}`)
    const status = String(c.status)
    if (status === "active" && remaining <= 0) violations.push(`credit ${id}: active with nothing left`)
    if (status === "consumed" && (remaining !== 0 || expired !== 0)) violations.push(`credit ${id}: consumed but remaining ${remaining}, expired ${expired}`)
    if (status === "expired" && remaining !== 0) violations.push(`credit ${id}: expired with ${remaining} left`)
    if (status === "merged" && (remaining !== 0 || merged <= 0)) violations.push(`credit ${id}: merged with ${remaining} left, ${merged} moved`)
    // a merged credit names the survivor's credit that took its remainder (docs/wallets.md#merge)
    if ((status === "merged") !== (c.merged_to !== null)) violations.push(`credit ${id}: ${status}, merged_to ${c.merged_to}`)
    if (status === "merged" && int(credits.find((x) => String(x.id) === String(c.merged_to))?.amount) !== merged) {
      violations.push(`credit ${id}: merged_to ${c.merged_to} does not hold ${merged}`)
    }
  }
  const entryTransactions = new Set(entries.map((e) => String(e.transaction_id)))
  for (const op of operations) {
    if (!entryTransactions.has(String(op.transaction_id))) violations.push(`operation ${op.transaction_id} has no ledger entry`)
  }
  return { violations, wallets: wallets.length, credits: credits.length, entries: entries.length }
}).pipe(Effect.orDie)
