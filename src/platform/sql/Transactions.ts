/**
 * `Transactions` on the generic `SqlClient`: `sql.withTransaction`, with a failed `BEGIN` or
 * `COMMIT` reported as a `StorageError`.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { Transactions } from "../Transactions.js"
import { recoverSqlDefects, storage } from "./SqlFailure.js"

/** @since 0.1.0 */
export const layer: Layer.Layer<Transactions, never, SqlClient.SqlClient> = Layer.effect(
  Transactions,
  Effect.map(SqlClient.SqlClient, (sql) =>
    Transactions.of({
      withTransaction: (self) => storage("a transaction")(recoverSqlDefects(sql.withTransaction(self)))
    }))
)
