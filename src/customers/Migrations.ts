/**
 * The customers module's migrations (ids 0100–0199; see the registry in `src/modules.ts`).
 * Instants are UTC epoch milliseconds in `BIGINT` columns on every engine; calendar dates are
 * `YYYY-MM-DD` text.
 *
 * @internal
 */
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
 * Every customer gets a payment code (DOMAIN §5, `kernel/PaymentCode.ts`): new customers at creation;
 * the customers created before this migration here, in SQL (D1 records a migration's statements and
 * cannot read back), with the same alphabet. Codes that collide are drawn again, a few passes, before
 * the unique key goes on; new codes that collide later are drawn again by their insert.
 */
const paymentCodes = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE c360_customers ADD COLUMN payment_code TEXT`
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
  const char = sql.onDialectOrElse({
    pg: () => `substr('${alphabet}', CAST(floor(random() * 32) AS INTEGER) + 1, 1)`,
    orElse: () => `substr('${alphabet}', (abs(random()) % 32) + 1, 1)`
  })
  const code = `'N2' || ${Array.from({ length: 8 }, () => char).join(" || ")}`
  yield* sql.unsafe(`UPDATE c360_customers SET payment_code = ${code} WHERE payment_code IS NULL`)
  for (let pass = 0; pass < 4; pass++) {
    yield* sql.unsafe(`UPDATE c360_customers SET payment_code = ${code} WHERE payment_code IN
      (SELECT payment_code FROM c360_customers GROUP BY payment_code HAVING count(*) > 1)`)
  }
  yield* sql`CREATE UNIQUE INDEX c360_customers_payment_code_key ON c360_customers (payment_code)`
})

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0100_customers": customers,
  "0101_payment_codes": paymentCodes
}
