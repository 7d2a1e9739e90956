/**
 * The customers module's migrations (ids 0100–0199; see the registry in `src/modules.ts`).
 * Instants are UTC epoch milliseconds in `BIGINT` columns on every engine; calendar dates are
 * `YYYY-MM-DD` text.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { versionGuard } from "../platform/sql/Migrations.js"

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

/**
 * Identity and merge (DOMAIN §9, §9a, docs/merge.md):
 * - `user_id`: the login linked to a profile (the identity module's `c360_users`), unique — a user
 *   has at most one profile.
 * - `merged_into`: set on a merged profile to its survivor. The stored `status` of a merged profile is
 *   `inactive` (so every filter on active customers leaves it out); it reads as `merged`.
 * - `version`: steps by one on every profile edit and on every merge that touches the profile (the
 *   platform's version guard), so a merge planned on a read that another merge or an edit has made
 *   outdated runs again instead of writing over it.
 * - The journal: `c360_merges` (one row per merge: survivor, merged ids, every field before and
 *   after, what each module moved) and `c360_merge_rows` (every row a merge moved or wrote, by table
 *   and id, with where it came from and where it went).
 */
const merge = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE c360_customers ADD COLUMN user_id TEXT`
  yield* sql`ALTER TABLE c360_customers ADD COLUMN merged_into TEXT REFERENCES c360_customers (id)`
  yield* sql`ALTER TABLE c360_customers ADD COLUMN version BIGINT NOT NULL DEFAULT 0`
  yield* sql`CREATE UNIQUE INDEX c360_customers_user_key ON c360_customers (user_id)`
  yield* sql`CREATE INDEX c360_customers_merged_into_idx ON c360_customers (merged_into) WHERE merged_into IS NOT NULL`
  yield* versionGuard("c360_customers", "customer")
  yield* sql`CREATE TABLE c360_merges (
    id TEXT PRIMARY KEY,
    survivor_id TEXT NOT NULL REFERENCES c360_customers (id),
    merged_ids TEXT NOT NULL,
    actor TEXT NOT NULL,
    result TEXT NOT NULL,
    created_at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX c360_merges_survivor_idx ON c360_merges (survivor_id, created_at)`
  yield* sql`CREATE TABLE c360_merge_rows (
    merge_id TEXT NOT NULL REFERENCES c360_merges (id),
    part TEXT NOT NULL,
    table_name TEXT NOT NULL,
    row_id TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('moved', 'created', 'closed', 'changed')),
    from_customer TEXT NOT NULL,
    to_customer TEXT NOT NULL,
    data TEXT,
    PRIMARY KEY (merge_id, table_name, row_id, action)
  )`
})

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0100_customers": customers,
  "0101_payment_codes": paymentCodes,
  "0850_identity_and_merge": merge
}
