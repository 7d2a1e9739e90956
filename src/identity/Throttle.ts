/**
 * Sliding-window limits enforced by the database (docs/identity.md#limits): failed logins per
 * account, link codes sent per phone and per user, wrong codes per phone and per user.
 *
 * Each limited thing has a key (a hash: an e-mail or a phone never appears in the table) and rows
 * `c360_identity_attempts (key, seq, at)`, unique by `(key, seq)`. To count an attempt, a transaction
 * reads the key's latest `seq` and the instants of its recent rows, applies {@link decide}, and — when
 * allowed — inserts `seq + 1`. Two attempts that read the same state both try to insert the same
 * `seq`: the unique key lets one in and sends the other back to read again (the unit of work's
 * `rerun`), so however many run at once, no window ever holds more than its limit. The rows a key
 * no longer needs (older than its longest window, except its latest) are deleted with each insert.
 *
 * @since 0.4.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import { int } from "../platform/sql/Columns.js"

/** At most `limit` attempts in any `windowMs` (sliding). @since 0.4.0 */
export interface Window {
  readonly limit: number
  readonly windowMs: number
}

/** What the window rule says of one more attempt now. @since 0.4.0 */
export type Verdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterMs: number }

/**
 * Whether one more attempt at `now` stays within every window, given the instants of the key's
 * earlier attempts (any order; older ones are ignored). When it does not, `retryAfterMs` is the
 * least wait after which it would: for each full window, until its `limit`-th newest attempt leaves
 * it; the longest of those. Pure.
 *
 * @since 0.4.0
 */
export const decide = (earlier: ReadonlyArray<number>, now: number, windows: ReadonlyArray<Window>): Verdict => {
  const newestFirst = [...earlier].sort((a, b) => b - a)
  let wait = 0
  for (const w of windows) {
    const inWindow = newestFirst.filter((at) => at > now - w.windowMs)
    if (inWindow.length >= w.limit) {
      const leaving = inWindow[w.limit - 1]!
      wait = Math.max(wait, leaving + w.windowMs - now)
    }
  }
  return wait > 0 ? { allowed: false, retryAfterMs: wait } : { allowed: true }
}

/** Whole seconds, at least 1, of a wait in milliseconds (what a caller is told). Pure. @since 0.4.0 */
export const retrySeconds = (ms: number): number => Math.max(1, Math.ceil(ms / 1000))

/** The longest window and the largest limit: how far back, and how many rows, a read needs. Pure. @since 0.4.0 */
export const reach = (windows: ReadonlyArray<Window>): { readonly windowMs: number; readonly limit: number } => ({
  windowMs: Math.max(...windows.map((w) => w.windowMs)),
  limit: Math.max(...windows.map((w) => w.limit))
})

/** What a read of a key found: its latest `seq` (0 for none) and its recent instants. @since 0.4.0 */
export interface ThrottleState {
  readonly key: string
  readonly lastSeq: number
  readonly recent: ReadonlyArray<number>
}

/**
 * The statements of the throttle, over the client: the two reads of a key's state (as one snapshot
 * where the engine has one), the reservation of the next slot with the pruning of old rows, and the
 * release of a slot (a correct password gives its attempt back).
 *
 * @since 0.4.0
 */
export const statements = (sql: SqlClient.SqlClient) => ({
  read: (key: string, windows: ReadonlyArray<Window>, now: number): ReadonlyArray<Statement.Statement<unknown>> => {
    const { limit, windowMs } = reach(windows)
    return [
      sql`SELECT COALESCE(MAX(seq), 0) AS seq FROM c360_identity_attempts WHERE key = ${key}`,
      sql`SELECT at FROM c360_identity_attempts WHERE key = ${key} AND at > ${now - windowMs}
        ORDER BY at DESC LIMIT ${limit}`
    ]
  },
  state: (key: string, rows: ReadonlyArray<ReadonlyArray<Record<string, unknown>>>): ThrottleState => ({
    key,
    lastSeq: int(rows[0]?.[0]?.seq ?? 0),
    recent: (rows[1] ?? []).map((r) => int(r.at))
  }),
  reserve: (state: ThrottleState, at: number, windows: ReadonlyArray<Window>): ReadonlyArray<Statement.Statement<unknown>> => [
    sql`INSERT INTO c360_identity_attempts (key, seq, at) VALUES (${state.key}, ${state.lastSeq + 1}, ${at})`,
    sql`DELETE FROM c360_identity_attempts WHERE key = ${state.key} AND seq < ${state.lastSeq}
      AND at <= ${at - reach(windows).windowMs}`
  ],
  release: (key: string, seq: number): Statement.Statement<unknown> =>
    sql`DELETE FROM c360_identity_attempts WHERE key = ${key} AND seq = ${seq}`
})
