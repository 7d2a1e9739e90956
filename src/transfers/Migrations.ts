/**
 * The transfers module's migrations (ids 0500–0599; see the registry in `src/modules.ts`).
 * A provider's transaction id is a unique key: a delivery SePay repeats (it retries for about 33
 * minutes) finds the first and changes nothing. `version` may only step by one (the same guard as
 * wallets and tickets), so two staff linking one transfer at once cannot both succeed.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { versionGuard } from "../platform/sql/Migrations.js"

const transfers = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE c360_bank_transfers (
    id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    gateway TEXT NOT NULL,
    account_number TEXT NOT NULL,
    sub_account TEXT,
    provider_code TEXT,
    content TEXT NOT NULL,
    transfer_type TEXT NOT NULL CHECK (transfer_type IN ('in', 'out')),
    amount BIGINT NOT NULL CHECK (amount > 0),
    accumulated BIGINT,
    reference_code TEXT,
    transaction_date BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('matched', 'linked', 'pending', 'out')),
    customer_id TEXT REFERENCES c360_customers (id),
    match_by TEXT CHECK (match_by IN ('code', 'phone', 'staff')),
    match_reason TEXT NOT NULL,
    candidates TEXT NOT NULL,
    explanation TEXT NOT NULL,
    deposit_transaction_id TEXT,
    linked_at BIGINT,
    linked_by TEXT,
    raw TEXT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT c360_bank_transfers_provider_key UNIQUE (provider, provider_id),
    CHECK (transfer_type = 'in' OR deposit_transaction_id IS NULL)
  )`
  yield* sql`CREATE INDEX c360_bank_transfers_customer_idx ON c360_bank_transfers (customer_id, transaction_date, id)`
  yield* sql`CREATE INDEX c360_bank_transfers_unlinked_idx ON c360_bank_transfers (transaction_date, id) WHERE customer_id IS NULL`
  yield* sql`CREATE INDEX c360_bank_transfers_pending_idx ON c360_bank_transfers (transaction_date, id) WHERE status = 'pending'`
  yield* versionGuard("c360_bank_transfers", "transfer")
})

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0500_bank_transfers": transfers
}
