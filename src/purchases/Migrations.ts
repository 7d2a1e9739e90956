/**
 * The purchases module's migrations (ids 0600–0699; see the registry in `src/modules.ts`).
 *
 * - `c360_purchases`: one row per purchase; `reference` is its idempotency key (unique);
 *   `returned` is what its returns add up to, never more than `amount` (a check, whatever the
 *   concurrency); `points` were earned by it, `points_returned` taken back by its returns.
 *   `business_day` is the purchase's calendar day in the business time zone (`kernel/BusinessDay.ts`),
 *   so that SQL counts RFM days without time-zone functions.
 * - `c360_purchase_items`: its lines (statistics: top products).
 * - `c360_purchase_returns`: one row per return, its reference unique.
 * - `c360_rfm`: each scored customer's RFM inputs, scores, segment and tier as of `as_of_day` (the
 *   tier is also the customer's `tier` column, which the scoring keeps in step).
 * - `c360_rfm_quantiles`: quantile mode's work table — for each dimension and value, how many
 *   customers have a lower value and how many the same (rebuilt by every quantile recomputation).
 * - `c360_customers.purchase_version`: steps by one with every purchase or return of the customer
 *   (the guard refuses a change planned on a stale read: two purchases of one customer take turns).
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { versionGuard } from "../platform/sql/Migrations.js"

const purchases = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE c360_purchases (
    id TEXT PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES c360_customers (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    returned BIGINT NOT NULL DEFAULT 0 CHECK (returned >= 0 AND returned <= amount),
    points BIGINT NOT NULL CHECK (points >= 0),
    points_returned BIGINT NOT NULL DEFAULT 0 CHECK (points_returned >= 0 AND points_returned <= points),
    shop_id TEXT,
    at BIGINT NOT NULL,
    business_day INTEGER NOT NULL,
    created_at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX c360_purchases_customer_idx ON c360_purchases (customer_id, business_day)`
  yield* sql`CREATE INDEX c360_purchases_at_idx ON c360_purchases (at)`
  yield* sql`CREATE TABLE c360_purchase_items (
    purchase_id TEXT NOT NULL REFERENCES c360_purchases (id),
    line INTEGER NOT NULL,
    customer_id TEXT NOT NULL REFERENCES c360_customers (id),
    product_id TEXT NOT NULL,
    name TEXT NOT NULL,
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    unit_price BIGINT NOT NULL CHECK (unit_price >= 0),
    PRIMARY KEY (purchase_id, line)
  )`
  yield* sql`CREATE INDEX c360_purchase_items_customer_idx ON c360_purchase_items (customer_id, product_id)`
  yield* sql`CREATE TABLE c360_purchase_returns (
    id TEXT PRIMARY KEY,
    reference TEXT NOT NULL UNIQUE,
    fingerprint TEXT NOT NULL,
    purchase_id TEXT NOT NULL REFERENCES c360_purchases (id),
    customer_id TEXT NOT NULL REFERENCES c360_customers (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    points BIGINT NOT NULL CHECK (points >= 0),
    at BIGINT NOT NULL,
    business_day INTEGER NOT NULL,
    created_at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX c360_purchase_returns_customer_idx ON c360_purchase_returns (customer_id, at)`
  yield* sql`CREATE INDEX c360_purchase_returns_purchase_idx ON c360_purchase_returns (purchase_id)`
  yield* sql`CREATE INDEX c360_purchase_returns_at_idx ON c360_purchase_returns (at)`
  yield* sql`CREATE TABLE c360_rfm (
    customer_id TEXT PRIMARY KEY REFERENCES c360_customers (id),
    last_day INTEGER,
    frequency BIGINT NOT NULL,
    monetary BIGINT NOT NULL,
    r INTEGER NOT NULL CHECK (r BETWEEN 1 AND 5),
    f INTEGER NOT NULL CHECK (f BETWEEN 1 AND 5),
    m INTEGER NOT NULL CHECK (m BETWEEN 1 AND 5),
    segment TEXT NOT NULL,
    tier TEXT NOT NULL,
    as_of_day INTEGER NOT NULL,
    scored_at BIGINT NOT NULL
  )`
  yield* sql`CREATE TABLE c360_rfm_quantiles (
    dimension TEXT NOT NULL,
    value BIGINT NOT NULL,
    below BIGINT NOT NULL,
    equal BIGINT NOT NULL,
    PRIMARY KEY (dimension, value)
  )`
  yield* sql`ALTER TABLE c360_customers ADD COLUMN purchase_version BIGINT NOT NULL DEFAULT 0`
  yield* versionGuard("c360_customers", "purchase", "purchase_version")
})

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0600_purchases": purchases
}
