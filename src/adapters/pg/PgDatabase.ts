/**
 * PostgreSQL through `@effect/sql-pg` (node-postgres pool).
 *
 * @since 0.1.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type { StorageError } from "../../domain/Errors.js"
import * as Storage from "../sql/Storage.js"

/**
 * - `url`: a `postgres://` connection string.
 * - `maxConnections`: pool size (default 10).
 * - `connectTimeoutMs`: how long to wait for the server at start (default 5000).
 *
 * @since 0.1.0
 */
export interface PgOptions {
  readonly url: string
  readonly maxConnections?: number | undefined
  readonly connectTimeoutMs?: number | undefined
}

/**
 * The PostgreSQL client; the layer fails with `StorageError` (`unavailable`) when the server cannot
 * be reached.
 *
 * @since 0.1.0
 */
export const layerClient = (options: PgOptions): Layer.Layer<SqlClient.SqlClient | PgClient.PgClient, StorageError> =>
  PgClient.layer({
    url: Redacted.make(options.url),
    maxConnections: options.maxConnections ?? 10,
    connectTimeout: Duration.millis(options.connectTimeoutMs ?? 5000),
    applicationName: "customer360"
  }).pipe(Layer.catchAllCause((cause) => Layer.fail(Storage.clientFailure("PostgreSQL")(cause))))

/**
 * The library's storage on PostgreSQL: client, migrations, repositories, transactions.
 *
 * @since 0.1.0
 */
export const layer = (options: PgOptions): Layer.Layer<Storage.StoragePorts | SqlClient.SqlClient, StorageError> =>
  Storage.layer.pipe(Layer.provideMerge(layerClient(options)))
