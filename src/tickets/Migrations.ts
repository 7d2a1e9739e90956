/**
 * The tickets module's migrations (ids 0400–0499; see the registry in `src/modules.ts`).
 *
 * - `c360_ticket_counters`: one row per year; a creation steps it in its own transaction, so a
 *   creation that rolls back uses no number, and creations of one year take turns on the row.
 * - `c360_tickets`: the code is unique; `version` may only step by one (the same guard as wallets).
 * - `c360_ticket_actions`: the history, append-only; a special action (`approve_boom`, `refund`,
 *   `exchange`) at most once per ticket — a unique key, whatever the retries or the concurrency.
 * - `c360_ticket_stats`: per customer, what their completed tickets add up to.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { versionGuard } from "../platform/sql/Migrations.js"

const tickets = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE c360_ticket_counters (
    year INTEGER PRIMARY KEY,
    last_number BIGINT NOT NULL CHECK (last_number >= 1)
  )`
  yield* sql`CREATE TABLE c360_tickets (
    id TEXT PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    year INTEGER NOT NULL,
    number BIGINT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('BOOM', 'DOI', 'THIEU', 'HOAN', 'KHAC')),
    status TEXT NOT NULL CHECK (status IN ('new', 'processing', 'waiting_carrier', 'completed', 'cancelled')),
    priority TEXT NOT NULL CHECK (priority IN ('low', 'normal', 'high')),
    customer_id TEXT NOT NULL REFERENCES c360_customers (id),
    phone TEXT,
    order_reference TEXT,
    amount BIGINT CHECK (amount > 0),
    carrier TEXT,
    carrier_deadline BIGINT,
    assignee TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    completed_at BIGINT,
    escalated_at BIGINT,
    version BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT c360_tickets_year_number_key UNIQUE (year, number)
  )`
  yield* sql`CREATE INDEX c360_tickets_customer_idx ON c360_tickets (customer_id, created_at)`
  yield* sql`CREATE INDEX c360_tickets_list_idx ON c360_tickets (status, created_at)`
  // the deadline job's work list: open tickets with a deadline, not yet escalated
  yield* sql`CREATE INDEX c360_tickets_deadline_idx ON c360_tickets (carrier_deadline, id)
    WHERE escalated_at IS NULL AND carrier_deadline IS NOT NULL AND status IN ('new', 'processing', 'waiting_carrier')`
  yield* versionGuard("c360_tickets", "ticket")
  yield* sql`CREATE TABLE c360_ticket_actions (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES c360_tickets (id),
    customer_id TEXT NOT NULL REFERENCES c360_customers (id),
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    note TEXT,
    data TEXT NOT NULL,
    at BIGINT NOT NULL
  )`
  yield* sql`CREATE INDEX c360_ticket_actions_ticket_idx ON c360_ticket_actions (ticket_id, at, id)`
  yield* sql`CREATE INDEX c360_ticket_actions_customer_idx ON c360_ticket_actions (customer_id, at, id)`
  yield* sql`CREATE UNIQUE INDEX c360_ticket_actions_special_key ON c360_ticket_actions (ticket_id, kind)
    WHERE kind IN ('approve_boom', 'refund', 'exchange')`
  yield* sql`CREATE TABLE c360_ticket_stats (
    customer_id TEXT PRIMARY KEY REFERENCES c360_customers (id),
    completed BIGINT NOT NULL DEFAULT 0,
    boom BIGINT NOT NULL DEFAULT 0,
    doi BIGINT NOT NULL DEFAULT 0,
    thieu BIGINT NOT NULL DEFAULT 0,
    hoan BIGINT NOT NULL DEFAULT 0,
    khac BIGINT NOT NULL DEFAULT 0,
    returns BIGINT NOT NULL DEFAULT 0,
    last_completed_at BIGINT
  )`
})

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0400_tickets": tickets
}
