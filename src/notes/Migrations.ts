/**
 * The notes module's migrations (ids 0300–0399; see the registry in `src/modules.ts`): notes and
 * activities, both append-only, both read newest first per customer.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

const notes = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE c360_notes (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES c360_customers (id),
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX c360_notes_customer_idx ON c360_notes (customer_id, created_at, id)`
  yield* sql`CREATE TABLE c360_activities (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES c360_customers (id),
    actor TEXT NOT NULL,
    kind TEXT NOT NULL,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    summary TEXT NOT NULL,
    data TEXT NOT NULL,
    at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX c360_activities_customer_idx ON c360_activities (customer_id, at, id)`
})

/**
 * Wallet writes in the activity log (DOMAIN §4a), recorded by the database from the wallet's own
 * record of each write, so that every path that writes a wallet — the shared repository, the
 * engine-specific fast paths, their group commit — records its activity in the same transaction,
 * with no second code path to keep in step: one activity per recorded write
 * (`c360_wallet_operations`: a deposit, a withdrawal, a credit issued), removed again with it when the
 * group commit takes back a write that turned out stale; and one per credit the expiry job expires
 * (its `credit_expired` ledger entry). The actor is `system:wallet` (`job:expire-credits` for expiry):
 * the wallet's inputs name no person; a write made by a ticket or a transfer is also that module's
 * activity, with its actor.
 */
const walletActivities = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () =>
      Effect.all([
        sql.unsafe(`CREATE FUNCTION c360_wallet_activity() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            IF TG_OP = 'DELETE' THEN
              DELETE FROM c360_activities WHERE id = 'act_w' || OLD.transaction_id;
              RETURN OLD;
            END IF;
            INSERT INTO c360_activities (id, customer_id, actor, kind, subject_type, subject_id, summary, data, at)
            VALUES ('act_w' || NEW.transaction_id, NEW.customer_id, 'system:wallet', 'wallet.' || NEW.kind, 'wallet',
              NEW.transaction_id, NEW.kind || ' (reference ' || NEW.reference || ')',
              json_build_object('reference', NEW.reference, 'transactionId', NEW.transaction_id)::text, NEW.created_at);
            RETURN NEW;
          END $$`),
        sql`CREATE TRIGGER c360_wallet_operations_activity AFTER INSERT OR DELETE ON c360_wallet_operations
          FOR EACH ROW EXECUTE FUNCTION c360_wallet_activity()`,
        sql.unsafe(`CREATE FUNCTION c360_credit_expiry_activity() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN
            INSERT INTO c360_activities (id, customer_id, actor, kind, subject_type, subject_id, summary, data, at)
            VALUES ('act_x' || NEW.id, NEW.customer_id, 'job:expire-credits', 'wallet.credit_expired', 'wallet',
              NEW.credit_id, 'credit ' || NEW.credit_id || ' expired: ' || (-NEW.amount) || ' đồng',
              json_build_object('creditId', NEW.credit_id, 'amount', -NEW.amount)::text, NEW.created_at);
            RETURN NEW;
          END $$`),
        sql`CREATE TRIGGER c360_ledger_entries_expiry_activity AFTER INSERT ON c360_ledger_entries
          FOR EACH ROW WHEN (NEW.kind = 'credit_expired') EXECUTE FUNCTION c360_credit_expiry_activity()`
      ], { discard: true }),
    orElse: () =>
      Effect.all([
        sql`CREATE TRIGGER c360_wallet_operations_activity AFTER INSERT ON c360_wallet_operations
          BEGIN
            INSERT INTO c360_activities (id, customer_id, actor, kind, subject_type, subject_id, summary, data, at)
            VALUES ('act_w' || NEW.transaction_id, NEW.customer_id, 'system:wallet', 'wallet.' || NEW.kind, 'wallet',
              NEW.transaction_id, NEW.kind || ' (reference ' || NEW.reference || ')',
              json_object('reference', NEW.reference, 'transactionId', NEW.transaction_id), NEW.created_at);
          END`,
        sql`CREATE TRIGGER c360_wallet_operations_activity_undo AFTER DELETE ON c360_wallet_operations
          BEGIN
            DELETE FROM c360_activities WHERE id = 'act_w' || OLD.transaction_id;
          END`,
        sql`CREATE TRIGGER c360_ledger_entries_expiry_activity AFTER INSERT ON c360_ledger_entries
          WHEN NEW.kind = 'credit_expired'
          BEGIN
            INSERT INTO c360_activities (id, customer_id, actor, kind, subject_type, subject_id, summary, data, at)
            VALUES ('act_x' || NEW.id, NEW.customer_id, 'job:expire-credits', 'wallet.credit_expired', 'wallet',
              NEW.credit_id, 'credit ' || NEW.credit_id || ' expired: ' || (-NEW.amount) || ' đồng',
              json_object('creditId', NEW.credit_id, 'amount', -NEW.amount), NEW.created_at);
          END`
      ], { discard: true })
  })
})

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0300_notes": notes,
  "0301_wallet_activities": walletActivities
}
