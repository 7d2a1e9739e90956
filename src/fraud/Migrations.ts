/**
 * The fraud module's migrations (ids 0800–0899; see the registry in `src/modules.ts`).
 *
 * - `c360_fraud_rules`: every rule version a run used, as it was: `(id, version)` names one
 *   definition for good (a run refuses a configured rule whose recorded version differs).
 * - `c360_fraud_runs`: one row per run: the instant it evaluated up to (`at`), the first anchor it
 *   evaluated after (`anchor_from`), and what it did once finished; the next run starts from the
 *   last finished one.
 * - `c360_fraud_decisions`: one row per decision, unique per customer, rule version and firing
 *   window — a run that finds a window again inserts nothing (`ON CONFLICT DO NOTHING`).
 * - `c360_fraud_flags`: the flags decisions raised; at most one active (not cleared) row per
 *   customer and flag (a partial unique index); `version` steps by one when it is cleared (the
 *   guard refuses a clearing planned on a stale read: two staff clearing at once, one wins).
 * - An index on the ledger by customer and time: the wallet rules read a customer range's
 *   transactions of a time range through it.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { versionGuard } from "../platform/sql/Migrations.js"

const fraud = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE c360_fraud_rules (
    id TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    kind TEXT NOT NULL,
    definition TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    action TEXT NOT NULL,
    recorded_at BIGINT NOT NULL,
    PRIMARY KEY (id, version)
  )`
  yield* sql`CREATE TABLE c360_fraud_runs (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    anchor_from BIGINT NOT NULL,
    actor TEXT NOT NULL,
    rules TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    evaluated BIGINT,
    decisions BIGINT,
    flags BIGINT,
    blacklisted BIGINT
  )`
  yield* sql`CREATE INDEX c360_fraud_runs_at_idx ON c360_fraud_runs (at) WHERE finished_at IS NOT NULL`
  yield* sql`CREATE TABLE c360_fraud_decisions (
    id TEXT PRIMARY KEY,
    run_id TEXT REFERENCES c360_fraud_runs (id),
    customer_id TEXT NOT NULL REFERENCES c360_customers (id),
    rule_id TEXT NOT NULL,
    rule_version INTEGER NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    action TEXT NOT NULL,
    window_from BIGINT NOT NULL,
    window_to BIGINT NOT NULL,
    evidence TEXT NOT NULL,
    decided_at BIGINT NOT NULL,
    tier_before TEXT,
    FOREIGN KEY (rule_id, rule_version) REFERENCES c360_fraud_rules (id, version),
    CONSTRAINT c360_fraud_decisions_window_key UNIQUE (customer_id, rule_id, rule_version, window_from, window_to)
  )`
  yield* sql`CREATE INDEX c360_fraud_decisions_customer_idx ON c360_fraud_decisions (customer_id, decided_at, id)`
  yield* sql`CREATE INDEX c360_fraud_decisions_run_idx ON c360_fraud_decisions (run_id)`
  yield* sql`CREATE TABLE c360_fraud_flags (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES c360_customers (id),
    flag TEXT NOT NULL,
    decision_id TEXT NOT NULL REFERENCES c360_fraud_decisions (id),
    raised_at BIGINT NOT NULL,
    cleared_at BIGINT,
    cleared_by TEXT,
    clear_reason TEXT,
    version BIGINT NOT NULL DEFAULT 0,
    CHECK ((cleared_at IS NULL) = (cleared_by IS NULL) AND (cleared_at IS NULL) = (clear_reason IS NULL))
  )`
  yield* sql`CREATE UNIQUE INDEX c360_fraud_flags_active_key ON c360_fraud_flags (customer_id, flag) WHERE cleared_at IS NULL`
  yield* sql`CREATE INDEX c360_fraud_flags_customer_idx ON c360_fraud_flags (customer_id, raised_at, id)`
  yield* versionGuard("c360_fraud_flags", "fraud flag")
  yield* sql`CREATE INDEX c360_ledger_entries_customer_time_idx ON c360_ledger_entries (customer_id, created_at)`
})

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0800_fraud": fraud
}
