/**
 * The raw better-sqlite3 connection of the SQLite adapter, as a service. Its own module (types only
 * from better-sqlite3) so that code which merely checks for it — the SQL wallet store — does not load
 * the native driver, e.g. in a Worker bundle on D1.
 *
 * @since 0.1.0
 */
import type { SqlError } from "@effect/sql/SqlError"
import type Sqlite from "better-sqlite3"
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"

/**
 * The raw connection, for code that must run several statements synchronously. `run` takes the
 * same lock as the `SqlClient` (or, inside an `SqlClient` transaction, joins it), so nothing
 * interleaves with it. Outside a transaction, while another process holds the database's write
 * lock, `run` calls `f` again — asynchronously, the event loop free meanwhile — until the storage's
 * `busyTimeoutMs` have passed: `f` must be safe to run again (a whole transaction, or reads).
 *
 * @since 0.1.0
 */
export interface SqliteHandleShape {
  readonly db: Sqlite.Database
  readonly run: <A>(f: (db: Sqlite.Database) => A) => Effect.Effect<A, SqlError>
}

/** The SqliteHandle service. @since 0.1.0 */
export class SqliteHandle extends Context.Tag("customer360/SqliteHandle")<SqliteHandle, SqliteHandleShape>() {}
