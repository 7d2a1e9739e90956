/**
 * The identity module's migrations (ids 0900–0999; see the registry in `src/modules.ts`).
 *
 * - `c360_users`: a login; `email_key` (the address trimmed, NFKC, lower-cased) is unique, so one
 *   address is one account whatever its case; `password_hash` is the self-describing scrypt string
 *   (never a password); `active` is 0 until the address is verified.
 * - `c360_email_tokens`: e-mail verification tokens, by their SHA-256 only; single use through the
 *   version guard (two uses of one token: one wins, the other reads it used).
 * - `c360_identity_attempts`: the sliding-window limits (`Throttle.ts`), unique by `(key, seq)`; a
 *   key is a hash, never an address or a phone.
 * - `c360_link_challenges`: link codes (`active | used | dead | superseded`), by their HMAC only, with
 *   their salt, wrong tries and expiry; at most one active per phone (a partial unique index); the
 *   version guard serialises confirmations of one challenge.
 *
 * @internal
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { versionGuard } from "../platform/sql/Migrations.js"

const identity = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE c360_users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  )`
  yield* sql`CREATE UNIQUE INDEX c360_users_email_key ON c360_users (email_key)`
  yield* sql`CREATE TABLE c360_email_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES c360_users (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    version BIGINT NOT NULL DEFAULT 0
  )`
  yield* versionGuard("c360_email_tokens", "e-mail token")
  yield* sql`CREATE TABLE c360_identity_attempts (
    key TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (key, seq)
  )`
  yield* sql`CREATE INDEX c360_identity_attempts_at_idx ON c360_identity_attempts (key, at)`
  yield* sql`CREATE TABLE c360_link_challenges (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES c360_users (id),
    phone TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES c360_customers (id),
    code_hash TEXT NOT NULL,
    salt TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('active', 'used', 'dead', 'superseded')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    version BIGINT NOT NULL DEFAULT 0
  )`
  yield* sql`CREATE UNIQUE INDEX c360_link_challenges_active_key ON c360_link_challenges (phone) WHERE status = 'active'`
  yield* sql`CREATE INDEX c360_link_challenges_phone_user_idx ON c360_link_challenges (phone, user_id, created_at)`
  yield* versionGuard("c360_link_challenges", "link challenge")
})

/** @internal */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0900_identity": identity
}
