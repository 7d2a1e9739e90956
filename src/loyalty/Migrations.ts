/**
 * The loyalty module's migrations (id `0960_loyalty`; see the registry in `src/modules.ts`).
 *
 * - `c360_loyalty_customers`: one row per customer of the loyalty program (CNV), by its id there
 *   (`cnv_id`). `phone` is the canonical phone (DOMAIN §1), NULL when `phone_raw` does not
 *   normalise; `created_date` is the business day (`YYYY-MM-DD`) of `cnv_created_at`. Points and
 *   money are whole numbers. `fingerprint` is the JSON of the synced values: an upsert with the same
 *   one changes nothing. The analytics' POS-vs-loyalty comparison reads this table (by `phone`,
 *   `created_date`).
 * - `c360_loyalty_sync_runs`: one row per sync run (`lsr_…`, `seq` counting them in the order they
 *   started, under the sync's lease): `running | completed | failed`, when it
 *   started and ended, the checkpoint it started from and the one it reached (each an instant and a
 *   CNV id, the tie-break), pages, the records created / updated / unchanged / failed, and the
 *   error that ended a failed run. Its figures are those of the pages it committed.
 * - `c360_loyalty_sync_failures`: the records a run could not take, with why (`cnv_id` NULL when
 *   the record had no readable id).
 * - `c360_loyalty_sync_state`: the checkpoint, one row per source (`cnv`): the `cnv_updated_at` and
 *   `cnv_id` of the last record committed. Each page's rows and the checkpoint move in one
 *   transaction.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

const loyalty = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE c360_loyalty_customers (
    cnv_id BIGINT PRIMARY KEY,
    last_name TEXT,
    first_name TEXT,
    phone_raw TEXT,
    phone TEXT,
    email TEXT,
    gender TEXT,
    birthday_day INTEGER,
    birthday_month INTEGER,
    birthday_year INTEGER,
    tags TEXT,
    physical_card_code TEXT,
    points BIGINT,
    exp_points BIGINT,
    total_spending BIGINT,
    total_points BIGINT,
    level_name TEXT,
    used_points BIGINT,
    cnv_created_at BIGINT,
    cnv_updated_at BIGINT,
    created_date TEXT,
    fingerprint TEXT,
    synced_at BIGINT,
    created_at BIGINT,
    updated_at BIGINT
  )`
  yield* sql`CREATE INDEX c360_loyalty_customers_phone_idx ON c360_loyalty_customers (phone)`
  yield* sql`CREATE INDEX c360_loyalty_customers_created_date_idx ON c360_loyalty_customers (created_date)`
  yield* sql`CREATE TABLE c360_loyalty_sync_runs (
    id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    full_sync INTEGER NOT NULL DEFAULT 0 CHECK (full_sync IN (0, 1)),
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    duration_ms BIGINT,
    checkpoint_from BIGINT,
    checkpoint_from_id BIGINT,
    checkpoint BIGINT,
    checkpoint_id BIGINT,
    pages BIGINT NOT NULL DEFAULT 0,
    created BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    failed BIGINT NOT NULL DEFAULT 0,
    error TEXT
  )`
  yield* sql`CREATE TABLE c360_loyalty_sync_failures (
    run_id TEXT NOT NULL REFERENCES c360_loyalty_sync_runs (id),
    seq BIGINT NOT NULL,
    cnv_id BIGINT,
    reason TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
  )`
  yield* sql`CREATE TABLE c360_loyalty_sync_state (
    source TEXT PRIMARY KEY,
    updated_at BIGINT NOT NULL,
    last_id BIGINT NOT NULL,
    run_id TEXT,
    changed_at BIGINT NOT NULL
  )`
})

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0960_loyalty": loyalty
}
