/**
 * The wallets module's migrations (ids 0200–0299; see the registry in `src/modules.ts`).
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

const wallets = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const serial = sql.onDialectOrElse({ pg: () => "BIGSERIAL PRIMARY KEY", orElse: () => "INTEGER PRIMARY KEY AUTOINCREMENT" })
  yield* sql`CREATE TABLE c360_wallets (
    customer_id TEXT PRIMARY KEY REFERENCES c360_customers (id),
    balance BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0),
    version BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  )`
  yield* sql`CREATE TABLE c360_virtual_credits (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES c360_wallets (customer_id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    remaining BIGINT NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
    expired_amount BIGINT NOT NULL DEFAULT 0 CHECK (expired_amount >= 0),
    status TEXT NOT NULL CHECK (status IN ('active', 'consumed', 'expired')),
    reason TEXT NOT NULL,
    ticket_id TEXT,
    transaction_id TEXT NOT NULL,
    issued_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL CHECK (expires_at > issued_at),
    CHECK (status <> 'active' OR remaining > 0)
  )`
  // a wallet's spendable credits, and the expiry jobs, which walk due credits wallet by wallet
  yield* sql`CREATE INDEX c360_virtual_credits_wallet_idx ON c360_virtual_credits (customer_id, expires_at, id)
    WHERE status = 'active'`
  yield* sql`CREATE INDEX c360_virtual_credits_due_idx ON c360_virtual_credits (expires_at, id) WHERE status = 'active'`
  yield* sql`CREATE TABLE c360_wallet_operations (
    reference TEXT PRIMARY KEY,
    transaction_id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL REFERENCES c360_wallets (customer_id),
    kind TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at BIGINT NOT NULL
  )`
  yield* sql.unsafe(`CREATE TABLE c360_ledger_entries (
    seq ${serial},
    id TEXT NOT NULL UNIQUE,
    transaction_id TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES c360_wallets (customer_id),
    kind TEXT NOT NULL CHECK (kind IN ('deposit', 'withdrawal', 'credit_issued', 'credit_spent', 'credit_expired')),
    amount BIGINT NOT NULL CHECK (amount <> 0),
    balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
    credit_id TEXT,
    credit_remaining_after BIGINT CHECK (credit_remaining_after >= 0),
    reference TEXT NOT NULL,
    source TEXT,
    note TEXT,
    created_at BIGINT NOT NULL,
    CHECK ((credit_id IS NULL) = (kind IN ('deposit', 'withdrawal')))
  )`)
  yield* sql`CREATE INDEX c360_ledger_entries_wallet_idx ON c360_ledger_entries (customer_id, seq)`
  // The ledger is append-only, and the database says so.
  yield* sql.onDialectOrElse({
    pg: () =>
      Effect.zipRight(
        sql.unsafe(`CREATE FUNCTION c360_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'c360_ledger_entries is append-only'; END $$`),
        sql`CREATE TRIGGER c360_ledger_entries_append_only BEFORE UPDATE OR DELETE ON c360_ledger_entries
          FOR EACH ROW EXECUTE FUNCTION c360_ledger_append_only()`
      ),
    orElse: () =>
      Effect.zipRight(
        sql`CREATE TRIGGER c360_ledger_entries_no_update BEFORE UPDATE ON c360_ledger_entries
          BEGIN SELECT RAISE(ABORT, 'c360_ledger_entries is append-only'); END`,
        sql`CREATE TRIGGER c360_ledger_entries_no_delete BEFORE DELETE ON c360_ledger_entries
          BEGIN SELECT RAISE(ABORT, 'c360_ledger_entries is append-only'); END`
      )
  })
  // Every write of a wallet updates its row (balance, version): leaving room on each page lets
  // PostgreSQL update in place (HOT) instead of growing the table and its index with dead rows.
  yield* sql.onDialectOrElse({
    pg: () => sql`ALTER TABLE c360_wallets SET (fillfactor = 70)`,
    orElse: () => Effect.void
  })
  // A wallet's version may only ever step by one. A write planned on a read it could not lock (every
  // write through the unit of work; D1 has no locks at all) sets `version` to the value it read plus
  // one, in the same unit of work as the rest of its change: if another write got in between, the
  // guard refuses it, and the whole unit of work with it. `version = version + 1` always passes.
  yield* sql.onDialectOrElse({
    pg: () =>
      Effect.zipRight(
        sql.unsafe(`CREATE FUNCTION c360_wallet_version_guard() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN RAISE EXCEPTION 'c360: stale wallet version'; END $$`),
        sql`CREATE TRIGGER c360_wallets_version_guard BEFORE UPDATE OF version ON c360_wallets
          FOR EACH ROW WHEN (NEW.version <> OLD.version + 1) EXECUTE FUNCTION c360_wallet_version_guard()`
      ),
    orElse: () =>
      sql`CREATE TRIGGER c360_wallets_version_guard BEFORE UPDATE OF version ON c360_wallets
        WHEN NEW.version <> OLD.version + 1
        BEGIN SELECT RAISE(ABORT, 'c360: stale wallet version'); END`
  })
})

/**
 * How long a wallet write waits for a wallet row another transaction holds, on PostgreSQL, before
 * it gives up (`lock_not_available`) and is retried — on the locked path, with the same bound — a
 * bounded number of times, then answered `StorageError` `contention` (HTTP 503).
 *
 * @internal
 */
export const WALLET_LOCK_TIMEOUT_MS = 500

/** The text of `c360_wallet_state` as migration 0201 created it. */
const walletStateFunction = `CREATE FUNCTION c360_wallet_state(p_phone text, p_customer text, p_reference text)
          RETURNS json LANGUAGE plpgsql STABLE AS $$
          DECLARE result json;
          BEGIN
            SELECT json_build_object(
              'customer_id', c.id, 'balance', w.balance, 'version', w.version,
              'credits', (SELECT coalesce(json_agg(json_build_object('id', vc.id, 'amount', vc.amount,
                  'remaining', vc.remaining, 'issued_at', vc.issued_at, 'expires_at', vc.expires_at,
                  'status', vc.status, 'reason', vc.reason, 'ticket_id', vc.ticket_id)), '[]'::json)
                FROM c360_virtual_credits vc WHERE vc.customer_id = c.id AND vc.status = 'active'),
              'operation', (SELECT json_build_object('kind', o.kind, 'fingerprint', o.fingerprint, 'result', o.result)
                FROM c360_wallet_operations o WHERE o.reference = p_reference))
            INTO result
            FROM c360_customers c JOIN c360_wallets w ON w.customer_id = c.id
            WHERE (p_phone IS NOT NULL AND c.phone = p_phone) OR (p_phone IS NULL AND c.id = p_customer);
            RETURN result;
          END $$`

/** The text of `c360_wallet_write_many` as migration 0201 created it. */
const walletWriteManyFunction = `CREATE FUNCTION c360_wallet_write_many(p jsonb) RETURNS jsonb LANGUAGE plpgsql
          SET lock_timeout = '${WALLET_LOCK_TIMEOUT_MS}ms' AS $$
          DECLARE
            item jsonb;
            results jsonb := '[]'::jsonb;
            applied int[] := '{}';
            pos int := 0;
            v_customer text;
            v_at bigint;
            v_transaction text;
            v_reference text;
          BEGIN
            FOR item IN SELECT value FROM jsonb_array_elements(p) LOOP
              pos := pos + 1;
              v_customer := item->>'customer';
              v_at := (item->>'at')::bigint;
              v_transaction := item->>'transaction';
              v_reference := item->>'reference';
              INSERT INTO c360_wallet_operations (reference, transaction_id, customer_id, kind, fingerprint, result, created_at)
              VALUES (v_reference, v_transaction, v_customer, item->>'kind', item->>'fingerprint', item->>'result', v_at)
              ON CONFLICT DO NOTHING;
              IF NOT FOUND THEN
                results := results || '"duplicate"'::jsonb;
                CONTINUE;
              END IF;
              UPDATE c360_wallets SET balance = (item->>'balance')::bigint, version = version + 1, updated_at = v_at
              WHERE customer_id = v_customer AND version = (item->>'version')::bigint
                AND (item->>'phone' IS NULL
                  OR EXISTS (SELECT 1 FROM c360_customers c WHERE c.id = v_customer AND c.phone = item->>'phone'));
              IF NOT FOUND THEN
                DELETE FROM c360_wallet_operations WHERE reference = v_reference;
                results := results || '"stale"'::jsonb;
                CONTINUE;
              END IF;
            IF jsonb_array_length(item->'creditUpdates') > 0 THEN
              UPDATE c360_virtual_credits vc SET remaining = x.remaining, status = x.status
              FROM jsonb_to_recordset(item->'creditUpdates') AS x(id text, remaining bigint, status text)
              WHERE vc.id = x.id AND vc.customer_id = v_customer AND vc.status = 'active';
            END IF;
            IF jsonb_array_length(item->'newCredits') > 0 THEN
              INSERT INTO c360_virtual_credits (id, customer_id, amount, remaining, status, reason, ticket_id,
                transaction_id, issued_at, expires_at)
              SELECT x.id, v_customer, x.amount, x.remaining, x.status, x.reason, x.ticket_id, v_transaction,
                x.issued_at, x.expires_at
              FROM jsonb_to_recordset(item->'newCredits') AS x(id text, amount bigint, remaining bigint, status text,
                reason text, ticket_id text, issued_at bigint, expires_at bigint);
            END IF;
              applied := applied || pos;
              results := results || '"applied"'::jsonb;
            END LOOP;
            IF cardinality(applied) > 0 THEN
              INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
                credit_remaining_after, reference, source, note, created_at)
              SELECT x.id, w.transaction, w.customer, x.kind, x.amount, x."balanceAfter", x."creditId",
                x."creditRemainingAfter", w.reference, x.source, x.note, w.at
              FROM jsonb_array_elements(p) WITH ORDINALITY AS a(item, n)
                CROSS JOIN LATERAL jsonb_to_record(a.item) AS w(customer text, transaction text, reference text, at bigint,
                  entries jsonb)
                CROSS JOIN LATERAL jsonb_to_recordset(w.entries) AS x(ord int, id text, kind text, amount bigint,
                  "balanceAfter" bigint, "creditId" text, "creditRemainingAfter" bigint, source text, note text)
              WHERE a.n = ANY(applied)
              ORDER BY a.n, x.ord;
              INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
              SELECT x.id, x.channel, x.type, x.subject, x.payload, x.occurred_at
              FROM jsonb_array_elements(p) WITH ORDINALITY AS a(item, n)
                CROSS JOIN LATERAL jsonb_to_recordset(a.item->'events') AS x(ord int, id text, channel text, type text,
                  subject text, payload text, occurred_at bigint)
              WHERE a.n = ANY(applied)
              ORDER BY a.n, x.ord;
            END IF;
            RETURN results;
          END $$`

/**
 * PostgreSQL, for the fast path (`FastPaths.ts`): the read and the group-commit write of a wallet
 * as PL/pgSQL functions, so that their plans are cached per connection instead of parsed and planned
 * on every call. They hold no rule: the change they apply is planned in TypeScript.
 * `c360_wallet_state` reads the wallet, its active credits and a reference's record.
 *
 * `c360_wallet_write_many`: several wallet writes in one statement and one transaction, with the
 * parts that every write has written set-based. Per write, in the caller's order (at most one write
 * per wallet, in wallet-id order, the lock order of every writer): the reference is recorded (`ON
 * CONFLICT DO NOTHING`: one already recorded, also by a concurrent transaction that commits first,
 * makes the write `duplicate` and nothing of it is written), then the wallet row is stepped only if
 * its version is still the planned one — and, for a write addressed by phone, only while that phone
 * still belongs to the wallet's customer (if not, the reference row just inserted is removed again
 * and the write is `stale`), then its credits are updated. After the loop, the ledger entries and the
 * outbox events of every applied write go in with one INSERT each, in write order. Anything else that
 * fails fails the whole statement, and the client sends each of its writes again alone. Returns one
 * outcome per write: `applied`, `stale` or `duplicate`. A wallet row locked by someone else is waited
 * for at most {@link WALLET_LOCK_TIMEOUT_MS} (the function's own `lock_timeout`): a stuck wallet
 * fails its batch fast instead of holding a group-commit slot (see `FastPaths.ts`).
 */
const walletFunctions = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () =>
      Effect.zipRight(
        sql.unsafe(walletStateFunction),
        sql.unsafe(walletWriteManyFunction)
      ),
    orElse: () => Effect.void
  })
})


/** `text` with `from` replaced by `to`; a text that does not hold `from` is a programming error. */
const replaced = (text: string, from: string, to: string): string => {
  if (!text.includes(from)) throw new Error(`wallet migration: ${JSON.stringify(from.slice(0, 60))} not found`)
  return text.split(from).join(to)
}

/** The ledger's entry kinds from migration 0860 on (docs/wallets.md#merge). */
const LEDGER_KINDS = "'deposit', 'withdrawal', 'credit_issued', 'credit_spent', 'credit_expired', " +
  "'merge_out', 'merge_in', 'credit_merged_out', 'credit_merged_in'"
/** The kinds of real-money entries (no credit). */
const REAL_KINDS = "'deposit', 'withdrawal', 'merge_out', 'merge_in'"

/**
 * Merging wallets (DOMAIN §9a, docs/wallets.md#merge):
 * - four entry kinds: `merge_out` / `merge_in` (a merged wallet's real balance leaving it and
 *   arriving on the survivor's) and `credit_merged_out` / `credit_merged_in` (a merged wallet's
 *   credit closed, and the survivor's new credit with its remainder and expiry);
 * - a credit status `merged` with `merged_amount` (what moved) and `merged_to` (the new credit): a
 *   credit's remainder = amount − consumed − expired − merged, always;
 * - every wallet read or write addressed by a merged profile's phone or id reaches its survivor's
 *   wallet: the PostgreSQL fast path's functions are redefined to resolve `merged_into`.
 *
 * SQLite and D1 cannot change a CHECK: the ledger and the credits are rebuilt (created anew,
 * copied, the old table dropped, the new one renamed; their indexes and the append-only triggers
 * made again). PostgreSQL drops and adds the constraints.
 */
const walletMerge = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () =>
      Effect.all([
        sql.unsafe(`DO $$ DECLARE c record; BEGIN
          FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'c360_ledger_entries'::regclass AND contype = 'c'
            AND pg_get_constraintdef(oid) LIKE '%kind%' LOOP
            EXECUTE format('ALTER TABLE c360_ledger_entries DROP CONSTRAINT %I', c.conname);
          END LOOP;
          FOR c IN SELECT conname FROM pg_constraint WHERE conrelid = 'c360_virtual_credits'::regclass AND contype = 'c'
            AND pg_get_constraintdef(oid) LIKE '%status%' LOOP
            EXECUTE format('ALTER TABLE c360_virtual_credits DROP CONSTRAINT %I', c.conname);
          END LOOP;
        END $$`),
        sql.unsafe(`ALTER TABLE c360_ledger_entries ADD CONSTRAINT c360_ledger_entries_kind_check
          CHECK (kind IN (${LEDGER_KINDS}))`),
        sql.unsafe(`ALTER TABLE c360_ledger_entries ADD CONSTRAINT c360_ledger_entries_credit_check
          CHECK ((credit_id IS NULL) = (kind IN (${REAL_KINDS})))`),
        sql`ALTER TABLE c360_virtual_credits ADD COLUMN merged_amount BIGINT NOT NULL DEFAULT 0 CHECK (merged_amount >= 0)`,
        sql`ALTER TABLE c360_virtual_credits ADD COLUMN merged_to TEXT`,
        sql`ALTER TABLE c360_virtual_credits ADD CONSTRAINT c360_virtual_credits_status_check
          CHECK (status IN ('active', 'consumed', 'expired', 'merged'))`,
        sql`ALTER TABLE c360_virtual_credits ADD CONSTRAINT c360_virtual_credits_active_check
          CHECK (status <> 'active' OR remaining > 0)`,
        // remaining = amount − consumed − expired − merged, with consumed ≥ 0; merged_to names the new credit
        sql`ALTER TABLE c360_virtual_credits ADD CONSTRAINT c360_virtual_credits_merge_check
          CHECK (remaining + expired_amount + merged_amount <= amount AND (status = 'merged') = (merged_to IS NOT NULL))`,
        sql.unsafe(replaced(
          replaced(
            replaced(walletStateFunction, "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"),
            "JOIN c360_wallets w ON w.customer_id = c.id",
            "JOIN c360_wallets w ON w.customer_id = COALESCE(c.merged_into, c.id)"
          ),
          "'customer_id', c.id",
          "'customer_id', w.customer_id"
        ).replace("WHERE vc.customer_id = c.id", "WHERE vc.customer_id = w.customer_id")),
        sql.unsafe(replaced(
          replaced(walletWriteManyFunction, "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION"),
          "EXISTS (SELECT 1 FROM c360_customers c WHERE c.id = v_customer AND c.phone = item->>'phone')",
          "EXISTS (SELECT 1 FROM c360_customers c WHERE c.phone = item->>'phone' AND COALESCE(c.merged_into, c.id) = v_customer)"
        ))
      ], { discard: true }),
    orElse: () =>
      Effect.all([
        sql.unsafe(`CREATE TABLE c360_ledger_entries_new (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          id TEXT NOT NULL UNIQUE,
          transaction_id TEXT NOT NULL,
          customer_id TEXT NOT NULL REFERENCES c360_wallets (customer_id),
          kind TEXT NOT NULL CHECK (kind IN (${LEDGER_KINDS})),
          amount BIGINT NOT NULL CHECK (amount <> 0),
          balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
          credit_id TEXT,
          credit_remaining_after BIGINT CHECK (credit_remaining_after >= 0),
          reference TEXT NOT NULL,
          source TEXT,
          note TEXT,
          created_at BIGINT NOT NULL,
          CHECK ((credit_id IS NULL) = (kind IN (${REAL_KINDS})))
        )`),
        sql`INSERT INTO c360_ledger_entries_new (seq, id, transaction_id, customer_id, kind, amount, balance_after,
            credit_id, credit_remaining_after, reference, source, note, created_at)
          SELECT seq, id, transaction_id, customer_id, kind, amount, balance_after, credit_id, credit_remaining_after,
            reference, source, note, created_at FROM c360_ledger_entries ORDER BY seq`,
        sql`DROP TABLE c360_ledger_entries`,
        sql`ALTER TABLE c360_ledger_entries_new RENAME TO c360_ledger_entries`,
        sql`CREATE INDEX c360_ledger_entries_wallet_idx ON c360_ledger_entries (customer_id, seq)`,
        // the fraud module's (migration 0800, which always runs before this one)
        sql`CREATE INDEX c360_ledger_entries_customer_time_idx ON c360_ledger_entries (customer_id, created_at)`,
        sql`CREATE TRIGGER c360_ledger_entries_no_update BEFORE UPDATE ON c360_ledger_entries
          BEGIN SELECT RAISE(ABORT, 'c360_ledger_entries is append-only'); END`,
        sql`CREATE TRIGGER c360_ledger_entries_no_delete BEFORE DELETE ON c360_ledger_entries
          BEGIN SELECT RAISE(ABORT, 'c360_ledger_entries is append-only'); END`,
        sql`CREATE TABLE c360_virtual_credits_new (
          id TEXT PRIMARY KEY,
          customer_id TEXT NOT NULL REFERENCES c360_wallets (customer_id),
          amount BIGINT NOT NULL CHECK (amount > 0),
          remaining BIGINT NOT NULL CHECK (remaining >= 0 AND remaining <= amount),
          expired_amount BIGINT NOT NULL DEFAULT 0 CHECK (expired_amount >= 0),
          status TEXT NOT NULL CHECK (status IN ('active', 'consumed', 'expired', 'merged')),
          reason TEXT NOT NULL,
          ticket_id TEXT,
          transaction_id TEXT NOT NULL,
          issued_at BIGINT NOT NULL,
          expires_at BIGINT NOT NULL CHECK (expires_at > issued_at),
          merged_amount BIGINT NOT NULL DEFAULT 0 CHECK (merged_amount >= 0),
          merged_to TEXT,
          CHECK (status <> 'active' OR remaining > 0),
          CHECK (remaining + expired_amount + merged_amount <= amount),
          CHECK ((status = 'merged') = (merged_to IS NOT NULL))
        )`,
        sql`INSERT INTO c360_virtual_credits_new (id, customer_id, amount, remaining, expired_amount, status, reason,
            ticket_id, transaction_id, issued_at, expires_at)
          SELECT id, customer_id, amount, remaining, expired_amount, status, reason, ticket_id, transaction_id,
            issued_at, expires_at FROM c360_virtual_credits`,
        sql`DROP TABLE c360_virtual_credits`,
        sql`ALTER TABLE c360_virtual_credits_new RENAME TO c360_virtual_credits`,
        sql`CREATE INDEX c360_virtual_credits_wallet_idx ON c360_virtual_credits (customer_id, expires_at, id)
          WHERE status = 'active'`,
        sql`CREATE INDEX c360_virtual_credits_due_idx ON c360_virtual_credits (expires_at, id) WHERE status = 'active'`
      ], { discard: true })
  })
})

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0200_wallets": wallets,
  "0201_wallet_functions": walletFunctions,
  "0860_wallet_merge": walletMerge
}
