/**
 * Everything the services need from a SQL database, over whichever `SqlClient` is provided:
 * migrations (run when the layer is built), the repositories and transactions.
 *
 * @since 0.1.0
 */
import type { MigrationError } from "@effect/sql/Migrator"
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { StorageError } from "../../kernel/Errors.js"
import type { CustomerRepository } from "../../customers/CustomerRepository.js"
import type { EventPublisher } from "../EventPublisher.js"
import type { JobLeases } from "../JobLeases.js"
import type { Outbox } from "../Outbox.js"
import type { Transactions } from "../Transactions.js"
import type { WalletStore } from "../../wallets/WalletStore.js"
import * as CustomerRepositorySql from "../../customers/CustomerRepositorySql.js"
import * as JobLeasesSql from "./JobLeasesSql.js"
import { migrate } from "./Migrations.js"
import { classify } from "./SqlFailure.js"
import * as OutboxSql from "./OutboxSql.js"
import * as TransactionsSql from "./Transactions.js"
import * as WalletStoreSql from "../../wallets/FastPaths.js"

/**
 * The ports every service uses, all backed by SQL.
 *
 * @since 0.1.0
 */
export type StoragePorts = CustomerRepository | Transactions | WalletStore | Outbox | EventPublisher | JobLeases

/**
 * Runs the migrations, then provides the repositories. A database that cannot be migrated fails
 * the layer with a `StorageError` (`unavailable` when it cannot be reached).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<StoragePorts, StorageError, SqlClient.SqlClient> = Layer.mergeAll(
  CustomerRepositorySql.layer,
  TransactionsSql.layer,
  WalletStoreSql.layer,
  OutboxSql.layer,
  JobLeasesSql.layer
).pipe(
  // the repositories may prepare statements when built: the schema must exist first
  Layer.provide(Layer.effectDiscard(Effect.asVoid(migrate).pipe(Effect.mapError(migrationFailure))))
)

/** @internal The `StorageError` of a database that cannot be migrated (also used by the D1 adapter). */
export function migrationFailure(e: MigrationError | SqlError): StorageError {
  const reason = e._tag === "SqlError" && classify(e)._tag === "Unavailable" ? "unavailable" : "unexpected"
  return new StorageError({ reason, operation: "migrating the database" })
}

/**
 * Maps a failure to build the client (unreachable server, unopenable file) to a `StorageError`.
 *
 * @since 0.1.0
 */
export const clientFailure = (what: string) => (_: unknown): StorageError =>
  new StorageError({ reason: "unavailable", operation: `connecting to ${what}` })
