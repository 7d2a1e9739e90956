/**
 * The `pg` pool under the PostgreSQL `SqlClient`, as a service. The wallet store's unlocked hot path
 * sends its one statement through it directly, as a named (server-side prepared) statement: the
 * `@effect/sql` machinery costs about 40 µs of CPU per statement over the driver's own ~15 µs,
 * which on a box shared with the server is throughput lost. Everything else — transactions, the
 * locked path, every other query — goes through the `SqlClient` on the same pool.
 *
 * Its own module (types only from `pg`) so that code which merely checks for it does not load the
 * driver.
 *
 * @since 0.1.0
 */
import type pg from "pg"
import * as Context from "effect/Context"

/** @since 0.1.0 */
export interface PgHandleShape {
  readonly pool: pg.Pool
}

/** The PgHandle service. @since 0.1.0 */
export class PgHandle extends Context.Tag("customer360/PgHandle")<PgHandle, PgHandleShape>() {}
