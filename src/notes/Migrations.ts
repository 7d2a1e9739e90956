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

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0300_notes": notes
}
