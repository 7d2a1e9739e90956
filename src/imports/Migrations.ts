/**
 * The imports module's migration `0950_imports` (see the registry in `src/modules.ts`; the tables
 * are the ones the analytics read, docs/imports.md "Tables").
 *
 * - `c360_imports`: one row per run (`running` → `completed` | `failed`) with its counts.
 * - `c360_import_failures`: the failed rows of a run (the first {@link FAILURES_KEPT} of them).
 * - `c360_pos_customers` (key `(vip_id, phone_key)`), `c360_pos_sales` (key `invoice_number`),
 *   `c360_pos_coupons` (key `coupon_id`): the imported rows, each with its `fingerprint` (a hash of
 *   its values as read), `revision` (1 when created, +1 with each change), and the run and line
 *   that last changed it.
 * - `c360_pos_vips`: one row per VIP (vip id ≠ 0), kept by the customers import: the latest
 *   imported row of a vip id wins.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

const bookkeeping = `fingerprint TEXT NOT NULL,
    revision BIGINT NOT NULL DEFAULT 1,
    import_id TEXT,
    line BIGINT,
    created_at BIGINT,
    updated_at BIGINT`

const imports = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE c360_imports (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('customers', 'sales', 'coupons')),
    format TEXT NOT NULL CHECK (format IN ('csv', 'xlsx')),
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    lines BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    error TEXT NULL,
    actor TEXT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NULL
  )`
  yield* sql`CREATE INDEX c360_imports_started_idx ON c360_imports (started_at)`
  yield* sql`CREATE TABLE c360_import_failures (
    import_id TEXT NOT NULL REFERENCES c360_imports (id),
    line BIGINT NOT NULL,
    column_name TEXT NULL,
    value TEXT NULL,
    reason TEXT NOT NULL
  )`
  yield* sql`CREATE INDEX c360_import_failures_import_idx ON c360_import_failures (import_id, line)`
  yield* sql.unsafe(`CREATE TABLE c360_pos_customers (
    vip_id BIGINT NOT NULL CHECK (vip_id >= 0),
    phone_key TEXT NOT NULL,
    phone TEXT NULL,
    phone_raw TEXT NOT NULL,
    id_number TEXT,
    birthday_month INTEGER CHECK (birthday_month BETWEEN 1 AND 12),
    vip_grade TEXT NULL CHECK (vip_grade IN ('VIP0', 'VIP1', 'VIP2', 'VIP3', 'DIAMOND')),
    name TEXT,
    race TEXT,
    gender TEXT,
    birthday TEXT,
    city_state TEXT,
    postal_code TEXT,
    country TEXT,
    email TEXT,
    contact_address TEXT,
    registration_store TEXT,
    registration_date TEXT NULL,
    points BIGINT,
    customer_id TEXT NULL REFERENCES c360_customers (id),
    ${bookkeeping},
    PRIMARY KEY (vip_id, phone_key)
  )`)
  yield* sql`CREATE INDEX c360_pos_customers_phone_idx ON c360_pos_customers (phone)`
  yield* sql`CREATE INDEX c360_pos_customers_registration_idx ON c360_pos_customers (registration_date)`
  yield* sql`CREATE INDEX c360_pos_customers_customer_idx ON c360_pos_customers (customer_id)`
  yield* sql`CREATE TABLE c360_pos_vips (
    vip_id BIGINT PRIMARY KEY CHECK (vip_id > 0),
    vip_grade TEXT NULL CHECK (vip_grade IN ('VIP0', 'VIP1', 'VIP2', 'VIP3', 'DIAMOND')),
    registration_date TEXT NULL,
    phone TEXT NULL,
    customer_id TEXT NULL,
    updated_at BIGINT
  )`
  yield* sql`CREATE INDEX c360_pos_vips_customer_idx ON c360_pos_vips (customer_id)`
  yield* sql.unsafe(`CREATE TABLE c360_pos_sales (
    invoice_number TEXT PRIMARY KEY,
    shop_id TEXT NOT NULL,
    shop_group TEXT NOT NULL,
    shop_name TEXT,
    country TEXT,
    bu TEXT,
    sales_date TEXT NOT NULL,
    sales_at BIGINT NOT NULL,
    season TEXT NOT NULL,
    vip_id BIGINT NOT NULL CHECK (vip_id >= 0),
    vip_name TEXT,
    quantity BIGINT,
    settlement_amount BIGINT,
    sales_amount BIGINT NOT NULL,
    tag_amount BIGINT,
    per_customer_transaction BIGINT,
    discount BIGINT,
    rounding BIGINT,
    customer_id TEXT NULL,
    purchase_reference TEXT NULL,
    ${bookkeeping}
  )`)
  yield* sql`CREATE INDEX c360_pos_sales_date_idx ON c360_pos_sales (sales_date)`
  yield* sql`CREATE INDEX c360_pos_sales_vip_idx ON c360_pos_sales (vip_id, sales_date)`
  yield* sql`CREATE INDEX c360_pos_sales_customer_idx ON c360_pos_sales (customer_id)`
  yield* sql.unsafe(`CREATE TABLE c360_pos_coupons (
    coupon_id TEXT PRIMARY KEY,
    department TEXT,
    creator TEXT,
    document_number TEXT,
    face_value BIGINT NOT NULL CHECK (face_value >= 0),
    used INTEGER NOT NULL CHECK (used IN (0, 1)),
    begin_date TEXT NULL,
    end_date TEXT NULL,
    using_shop TEXT NULL,
    shop_group TEXT NULL,
    using_date TEXT NULL,
    season TEXT NULL,
    push TEXT,
    member_id BIGINT NULL CHECK (member_id >= 0),
    member_name TEXT,
    member_phone_raw TEXT,
    member_phone TEXT NULL,
    docket_number TEXT,
    ${bookkeeping}
  )`)
  yield* sql`CREATE INDEX c360_pos_coupons_begin_idx ON c360_pos_coupons (begin_date)`
  yield* sql`CREATE INDEX c360_pos_coupons_using_idx ON c360_pos_coupons (using_date)`
})

/** How many failed rows of a run are stored and reported (the count is always complete). @internal */
export const FAILURES_KEPT = 1000

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0950_imports": imports
}
