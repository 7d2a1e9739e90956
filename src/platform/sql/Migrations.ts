/**
 * Schema migrations, one effect per version, for SQLite and PostgreSQL alike. Tables carry the
 * `c360_` prefix so the library can share a database with the host application's own tables.
 * Instants are UTC epoch milliseconds in `BIGINT` columns on both engines, so comparisons and
 * indexes behave the same everywhere; calendar dates are `YYYY-MM-DD` text.
 *
 * @since 0.1.0
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

const customers = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE c360_customers (
    id TEXT PRIMARY KEY,
    phone TEXT,
    name TEXT,
    name_search TEXT NOT NULL DEFAULT '',
    email TEXT,
    email_key TEXT,
    address TEXT,
    city TEXT,
    province TEXT,
    birth_date TEXT,
    gender TEXT CHECK (gender IN ('male', 'female', 'other')),
    notes TEXT,
    type TEXT NOT NULL DEFAULT 'walk-in' CHECK (type IN ('walk-in', 'member', 'vip')),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'blocked')),
    tier TEXT NOT NULL DEFAULT 'new' CHECK (tier IN ('new', 'silver', 'gold', 'platinum', 'blacklist')),
    membership_level TEXT NOT NULL DEFAULT 'bronze' CHECK (membership_level IN ('bronze', 'silver', 'gold', 'platinum')),
    points BIGINT NOT NULL DEFAULT 0 CHECK (points >= 0),
    total_orders BIGINT NOT NULL DEFAULT 0 CHECK (total_orders >= 0),
    total_spent BIGINT NOT NULL DEFAULT 0 CHECK (total_spent >= 0),
    last_purchase_at BIGINT,
    source TEXT NOT NULL CHECK (source IN ('customer_hub', 'ticket', 'bank_transfer', 'import')),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT c360_customers_phone_key UNIQUE (phone),
    CONSTRAINT c360_customers_email_key UNIQUE (email_key)
  )`
  yield* sql`CREATE INDEX c360_customers_created_idx ON c360_customers (created_at DESC, id DESC)`
})

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
  yield* sql`INSERT INTO c360_wallets (customer_id, balance, version, created_at, updated_at)
    SELECT id, 0, 0, created_at, created_at FROM c360_customers`
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
  yield* sql`CREATE INDEX c360_virtual_credits_wallet_idx ON c360_virtual_credits (customer_id) WHERE status = 'active'`
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
  // Outbox: events written in the transaction of their change, numbered by seq (see OutboxSql for
  // how a relay reads them without skipping one that commits late). tx records the writing
  // transaction on PostgreSQL, for diagnosis.
  const tx = sql.onDialectOrElse({ pg: () => "BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint)", orElse: () => "BIGINT NOT NULL DEFAULT 0" })
  yield* sql.unsafe(`CREATE TABLE c360_outbox (
    seq ${serial},
    tx ${tx},
    id TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    type TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    occurred_at BIGINT NOT NULL
  )`)
  yield* sql`CREATE INDEX c360_outbox_position_idx ON c360_outbox (tx, seq)`
  yield* sql`CREATE TABLE c360_relay_checkpoints (
    name TEXT PRIMARY KEY,
    tx BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  )`
})

/**
 * Every write of a wallet updates its row (balance, version): leaving room on each page lets
 * PostgreSQL update in place (HOT) instead of growing the table and its index with dead rows.
 */
const walletsFillfactor = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () => sql`ALTER TABLE c360_wallets SET (fillfactor = 70)`,
    orElse: () => Effect.void
  })
})

/**
 * PostgreSQL: the two statements of a wallet write as PL/pgSQL functions, so that their plans are
 * cached per connection instead of parsed and planned on every call (`@effect/sql-pg` sends
 * unnamed statements). They hold no rule: the change they apply is planned in TypeScript.
 * `c360_wallet_state` reads the wallet, its active credits and a reference's record;
 * `c360_wallet_write` applies a planned change if the wallet's version is still the one read.
 */
const walletFunctions = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () =>
      Effect.zipRight(
        sql.unsafe(`CREATE FUNCTION c360_wallet_state(p_phone text, p_customer text, p_reference text)
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
          END $$`),
        sql.unsafe(`CREATE FUNCTION c360_wallet_write(p jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
          DECLARE applied bigint;
          BEGIN
            WITH w AS (
              UPDATE c360_wallets SET balance = (p->>'balance')::bigint, version = version + 1, updated_at = (p->>'at')::bigint
              WHERE customer_id = p->>'customer' AND version = (p->>'version')::bigint
              RETURNING customer_id
            ), op AS (
              INSERT INTO c360_wallet_operations (reference, transaction_id, customer_id, kind, fingerprint, result, created_at)
              SELECT p->>'reference', p->>'transaction', w.customer_id, p->>'kind', p->>'fingerprint', p->>'result',
                (p->>'at')::bigint FROM w
            ), cu AS (
              UPDATE c360_virtual_credits vc SET remaining = x.remaining, status = x.status
              FROM jsonb_to_recordset(p->'creditUpdates') AS x(id text, remaining bigint, status text), w
              WHERE vc.id = x.id AND vc.customer_id = w.customer_id AND vc.status = 'active'
            ), nc AS (
              INSERT INTO c360_virtual_credits (id, customer_id, amount, remaining, status, reason, ticket_id,
                transaction_id, issued_at, expires_at)
              SELECT x.id, w.customer_id, x.amount, x.remaining, x.status, x.reason, x.ticket_id, p->>'transaction',
                x.issued_at, x.expires_at
              FROM jsonb_to_recordset(p->'newCredits') AS x(id text, amount bigint, remaining bigint, status text,
                reason text, ticket_id text, issued_at bigint, expires_at bigint), w
            ), le AS (
              INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
                credit_remaining_after, reference, source, note, created_at)
              SELECT x.id, p->>'transaction', w.customer_id, x.kind, x.amount, x."balanceAfter", x."creditId",
                x."creditRemainingAfter", p->>'reference', x.source, x.note, (p->>'at')::bigint
              FROM jsonb_to_recordset(p->'entries') AS x(ord int, id text, kind text, amount bigint,
                "balanceAfter" bigint, "creditId" text, "creditRemainingAfter" bigint, source text, note text), w
              ORDER BY x.ord
            ), ob AS (
              INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
              SELECT x.id, x.channel, x.type, x.subject, x.payload, x.occurred_at
              FROM jsonb_to_recordset(p->'events') AS x(ord int, id text, channel text, type text,
                subject text, payload text, occurred_at bigint), w
              ORDER BY x.ord
            )
            SELECT count(*) INTO applied FROM w;
            RETURN applied = 1;
          END $$`)
      ),
    orElse: () => Effect.void
  })
})

/** Relays read the outbox by `seq` alone (see OutboxSql): the `(tx, seq)` index only cost writes. */
const outboxIndex = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP INDEX c360_outbox_position_idx`
})

/**
 * Active credits by wallet and expiry: a wallet's spendable credits, and the SQLite expiry job, which
 * walks due credits wallet by wallet (see WalletStoreSql), read it without touching the table.
 */
const creditsByWalletAndExpiry = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP INDEX c360_virtual_credits_wallet_idx`
  yield* sql`CREATE INDEX c360_virtual_credits_wallet_idx ON c360_virtual_credits (customer_id, expires_at, id)
    WHERE status = 'active'`
})

/**
 * PL/pgSQL: the credit part of one planned wallet write whose JSON is in variable `v` (with
 * `v_customer` and `v_transaction` set): the spent credits' remainders, then the new credits.
 */
const creditSteps = (v: string) =>
  `          IF jsonb_array_length(${v}->'creditUpdates') > 0 THEN
            UPDATE c360_virtual_credits vc SET remaining = x.remaining, status = x.status
            FROM jsonb_to_recordset(${v}->'creditUpdates') AS x(id text, remaining bigint, status text)
            WHERE vc.id = x.id AND vc.customer_id = v_customer AND vc.status = 'active';
          END IF;
          IF jsonb_array_length(${v}->'newCredits') > 0 THEN
            INSERT INTO c360_virtual_credits (id, customer_id, amount, remaining, status, reason, ticket_id,
              transaction_id, issued_at, expires_at)
            SELECT x.id, v_customer, x.amount, x.remaining, x.status, x.reason, x.ticket_id, v_transaction,
              x.issued_at, x.expires_at
            FROM jsonb_to_recordset(${v}->'newCredits') AS x(id text, amount bigint, remaining bigint, status text,
              reason text, ticket_id text, issued_at bigint, expires_at bigint);
          END IF;`

/**
 * The current definition of `c360_wallet_write` (PostgreSQL): one statement per table, run only when it
 * has rows (a withdrawal issues no credit; a deposit spends none). The wallet row is updated first, on
 * its version — and, for a write addressed by phone, only while that phone still belongs to the
 * wallet's customer (a phone can move to another customer without changing any wallet's version, and
 * a writer may have planned on a remembered phone → wallet mapping) — so nothing is written unless
 * the wallet is the one planned on, as it was planned on. Installed by migrations 0007 and 0008
 * (0008 for databases that ran 0007 before the phone check existed); `CREATE OR REPLACE` makes
 * installing it twice harmless.
 */
const walletWriteFunction = `CREATE OR REPLACE FUNCTION c360_wallet_write(p jsonb) RETURNS boolean LANGUAGE plpgsql AS $$
        DECLARE
          v_customer text := p->>'customer';
          v_at bigint := (p->>'at')::bigint;
          v_transaction text := p->>'transaction';
          v_reference text := p->>'reference';
        BEGIN
          UPDATE c360_wallets SET balance = (p->>'balance')::bigint, version = version + 1, updated_at = v_at
          WHERE customer_id = v_customer AND version = (p->>'version')::bigint
            AND (p->>'phone' IS NULL
              OR EXISTS (SELECT 1 FROM c360_customers c WHERE c.id = v_customer AND c.phone = p->>'phone'));
          IF NOT FOUND THEN RETURN false; END IF;
          INSERT INTO c360_wallet_operations (reference, transaction_id, customer_id, kind, fingerprint, result, created_at)
          VALUES (v_reference, v_transaction, v_customer, p->>'kind', p->>'fingerprint', p->>'result', v_at);
${creditSteps("p")}
          INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
            credit_remaining_after, reference, source, note, created_at)
          SELECT x.id, v_transaction, v_customer, x.kind, x.amount, x."balanceAfter", x."creditId",
            x."creditRemainingAfter", v_reference, x.source, x.note, v_at
          FROM jsonb_to_recordset(p->'entries') AS x(ord int, id text, kind text, amount bigint,
            "balanceAfter" bigint, "creditId" text, "creditRemainingAfter" bigint, source text, note text)
          ORDER BY x.ord;
          INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
          SELECT x.id, x.channel, x.type, x.subject, x.payload, x.occurred_at
          FROM jsonb_to_recordset(p->'events') AS x(ord int, id text, channel text, type text,
            subject text, payload text, occurred_at bigint)
          ORDER BY x.ord;
          RETURN true;
        END $$`

const installWalletWrite = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({ pg: () => sql.unsafe(walletWriteFunction), orElse: () => Effect.void })
})

/**
 * PostgreSQL: several wallet writes in one statement and one transaction (group commit from the
 * client). Each write runs `c360_wallet_write` in its own subtransaction: a write whose reference is
 * already recorded (unique violation) is rolled back alone and reported as `duplicate`, one planned on
 * an outdated version changes nothing and is reported as `stale`, one that fails otherwise is rolled
 * back alone and reported as `error:<SQLSTATE>`; the others apply. The caller sends
 * at most one write per wallet, in wallet-id order (the lock order of every writer), so two batches
 * cannot deadlock. Holds no rule: the writes are planned by the library. Superseded by
 * `c360_wallet_write_many` (0012); kept for processes of the previous version during a rolling deploy.
 */
const walletWriteBatch = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () =>
      sql.unsafe(`CREATE OR REPLACE FUNCTION c360_wallet_write_batch(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
        DECLARE
          item jsonb;
          results jsonb := '[]'::jsonb;
        BEGIN
          FOR item IN SELECT value FROM jsonb_array_elements(p) LOOP
            BEGIN
              results := results || to_jsonb(CASE WHEN c360_wallet_write(item) THEN 'applied' ELSE 'stale' END);
            EXCEPTION
              WHEN unique_violation THEN results := results || to_jsonb('duplicate'::text);
              WHEN OTHERS THEN results := results || to_jsonb('error:' || SQLSTATE);
            END;
          END LOOP;
          RETURN results;
        END $$`),
    orElse: () => Effect.void
  })
})

/**
 * PostgreSQL: several wallet writes in one statement and one transaction, with the parts that every
 * write has written set-based. Per write, in the caller's order (at most one write per wallet, in
 * wallet-id order, the lock order of every writer): the reference is recorded (`ON CONFLICT DO
 * NOTHING`: one already recorded, also by a concurrent transaction that commits first, makes the write
 * `duplicate` and nothing of it is written), then the wallet row is stepped only if its version is
 * still the planned one (if not, the reference row just inserted is removed again and the write is
 * `stale`), then its credits are updated. After the loop, the ledger entries and the outbox events of
 * every applied write go in with one INSERT each, in write order: each INSERT's start-up, constraint
 * set-up and foreign-key trigger queue are paid once per batch instead of once per write, and no write
 * needs a subtransaction. Anything else that fails (a constraint the planner should never let through,
 * a lost connection) fails the whole statement, and the client sends each of its writes again alone.
 * Returns one outcome per write: `applied`, `stale` or `duplicate`. Holds no rule: the writes are
 * planned by the library.
 */
const walletWriteMany = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () =>
      sql.unsafe(`CREATE OR REPLACE FUNCTION c360_wallet_write_many(p jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
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
${creditSteps("item")}
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
        END $$`),
    orElse: () => Effect.void
  })
})

/**
 * Leases on named jobs (see JobLeasesSql): one row per job, claimed and renewed by single statements,
 * so that two job runners on one database never run the same job at once.
 */
const jobLeases = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE c360_job_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  )`
})

/**
 * SQLite: a wallet's version may only ever step by one. A writer that cannot lock the wallet between
 * its read and its write (Cloudflare D1 has no interactive transactions) sets `version` to the value
 * it read plus one, in the same batch as the rest of its change: if another write got in between,
 * the trigger aborts, and the whole batch with it. The other writers' `version = version + 1` always
 * passes. PostgreSQL checks the version in its write statement instead.
 */
const walletVersionGuard = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql.onDialectOrElse({
    pg: () => Effect.void,
    orElse: () =>
      sql`CREATE TRIGGER c360_wallets_version_guard BEFORE UPDATE OF version ON c360_wallets
        WHEN NEW.version <> OLD.version + 1
        BEGIN SELECT RAISE(ABORT, 'c360: stale wallet version'); END`
  })
})

/**
 * Every migration of the library, in order.
 *
 * @since 0.1.0
 */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_customers": customers,
  "0002_wallets": wallets,
  "0003_wallets_fillfactor": walletsFillfactor,
  "0004_wallet_functions": walletFunctions,
  "0005_outbox_index": outboxIndex,
  "0006_credits_by_wallet_and_expiry": creditsByWalletAndExpiry,
  "0007_wallet_write_statements": installWalletWrite,
  "0008_wallet_write_checks_phone": installWalletWrite,
  "0009_job_leases": jobLeases,
  "0010_sqlite_wallet_version_guard": walletVersionGuard,
  "0011_wallet_write_batch": walletWriteBatch,
  "0012_wallet_write_many": walletWriteMany
}

/**
 * Brings the connected database up to date. Safe to run from several processes at once: on
 * PostgreSQL the migrator locks its table; SQLite serialises writers.
 *
 * @since 0.1.0
 */
export const migrate = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  // Created here first (same shape as the migrator's own) so that two processes starting on a fresh
  // PostgreSQL database do not race in the migrator's check-then-create; its table lock does the rest.
  yield* sql.onDialectOrElse({
    pg: () =>
      sql`CREATE TABLE IF NOT EXISTS c360_migrations (
        migration_id integer primary key,
        created_at timestamp with time zone not null default now(),
        name text not null
      )`.pipe(Effect.retry({ times: 3 })),
    orElse: () => Effect.void
  })
  return yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: "c360_migrations" })
})
