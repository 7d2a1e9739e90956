/**
 * Cloudflare D1: the library's storage over a D1 binding, for Workers.
 *
 * ```ts
 * import { Customer360 } from "customer360"
 * import { D1Database } from "customer360/d1"
 *
 * const layer = Customer360.layer(D1Database.layer({ binding: env.DB }))
 * ```
 *
 * The guarantees are those of the SQLite adapter: every write is atomic; idempotency (wallet
 * references) and uniqueness (phone, e-mail) are enforced by the database's keys; no two writes to
 * one wallet both succeed on a stale read; events reach the outbox in the batch of their change.
 *
 * How, without interactive transactions. D1 refuses `BEGIN` and `SAVEPOINT`; its only atomic unit is
 * `binding.batch([...])`, which runs the statements in one transaction and rolls all of them back
 * if one fails. So every write is planned in TypeScript first and sent as one batch:
 * - `Transactions.withTransaction` collects the writes of its effect — repository writes, published
 *   events — and sends them as one batch when the effect succeeds (nothing when it fails). A batch
 *   that fails on a unique key becomes the typed error of the write it concerns (`CustomerExists`);
 *   one that shows the transaction planned on an outdated read (a phone `getOrCreate` found free is
 *   now taken) runs the transaction again. Reads inside a transaction see committed data only.
 * - A wallet write reads the wallet in one batch and writes everything in one batch that first sets
 *   the wallet's `version` to the version read plus one; a trigger (the wallets migration) aborts any
 *   version step other than one, so a write that lost a race changes nothing and re-plans on a
 *   fresh read (bounded, jittered retries). The reference is a primary key written in that batch.
 * - Expiry: one guarded batch per group of due credits, the same way.
 * - Migrations: one batch per migration, recorded in its first statement, so each applies fully or
 *   not at all and isolates starting together on a fresh database do not collide.
 * D1 runs one write at a time, so outbox numbers are commit order, as on SQLite; the outbox reader,
 * relay checkpoints and job leases are the generic SQL ones, unchanged.
 *
 * Why not `@effect/sql-d1`: its newest release on the Effect 3 line (0.47) requires `@effect/sql`
 * ^0.49, older than the 0.52 this library uses, and a client alone cannot make several statements
 * atomic on D1 anyway. The client here is a thin SQLite-dialect `SqlClient` (`SqlClient.make` and
 * `Statement.makeCompilerSqlite`, as the better-sqlite3 adapter builds its own); its own
 * `withTransaction` fails with a `SqlError` instead of pretending that separate queries are atomic.
 *
 * Numbers: D1 binds every JavaScript number as a floating-point value; integer columns store them as
 * integers, and money is bounded by `Number.MAX_SAFE_INTEGER` anyway.
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { StorageError } from "../kernel/Errors.js"
import { migrations } from "../modules.js"
import * as D1Client from "../platform/d1/D1Client.js"
import { migrate } from "../platform/d1/MigrationsD1.js"
import * as UnitOfWork from "../platform/UnitOfWork.js"
import { failMigration, ports, type StoragePorts } from "./Storage.js"

export type {
  /** @since 0.1.0 */
  D1DatabaseLike,
  /** @since 0.1.0 */
  D1PreparedStatementLike,
  /** @since 0.1.0 */
  D1ResultLike
} from "../platform/d1/D1Client.js"

/**
 * - `binding`: the D1 database binding (`env.DB`), typed by its shape so that no
 *   `@cloudflare/workers-types` dependency is needed.
 *
 * @since 0.1.0
 */
export interface D1Options {
  readonly binding: D1Client.D1DatabaseLike
}

/**
 * The SQLite-dialect `@effect/sql` client over the binding, for reads and single statements (its
 * `withTransaction` fails: D1 has no interactive transactions). Building it does no I/O.
 *
 * @since 0.1.0
 */
export const layerClient = (options: D1Options): Layer.Layer<SqlClient.SqlClient> => D1Client.layer(options.binding)

/**
 * The library's storage on D1: client, migrations (run when the layer is built), repositories,
 * transactions — the same repositories as on every engine, over a deferred unit of work whose batch
 * is one D1 batch. Fails with `StorageError` when the database cannot be migrated (`unavailable`
 * when it cannot be reached).
 *
 * @since 0.1.0
 */
export const layer = (options: D1Options): Layer.Layer<StoragePorts | SqlClient.SqlClient, StorageError> =>
  ports.pipe(
    Layer.provideMerge(Layer.unwrapEffect(Effect.map(D1Client.D1Handle, (handle) =>
      UnitOfWork.layer({ deferred: true, batch: handle.batch })))),
    Layer.provide(Layer.effectDiscard(Effect.asVoid(migrate(migrations)).pipe(Effect.catchAll(failMigration)))),
    Layer.provideMerge(D1Client.layer(options.binding))
  )
