/**
 * The transactions port: one unit of work across every module (docs/transactions.md).
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../kernel/Errors.js"

/**
 * Runs a unit of work atomically: every repository call made inside `withTransaction` commits
 * together or not at all. Nested calls join the outer transaction. A failure of the commit itself
 * becomes a {@link StorageError}.
 *
 * @since 0.1.0
 */
export interface TransactionsShape {
  readonly withTransaction: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | StorageError, R>
}

/** The Transactions service. @since 0.1.0 */
export class Transactions extends Context.Tag("customer360/Transactions")<Transactions, TransactionsShape>() {}
