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

/**
 * Every migration of the library, in order.
 *
 * @since 0.1.0
 */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_customers": customers
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
