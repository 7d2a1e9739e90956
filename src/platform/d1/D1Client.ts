/**
 * A SQLite-dialect `@effect/sql` client over a Cloudflare D1 binding, and the one thing D1 offers
 * for atomic writes: the batch.
 *
 * The client is built with `SqlClient.make` and the SQLite compiler, as the better-sqlite3 client
 * (`storage/SqliteDatabase.ts`) is; each statement is one D1 query. D1 has no interactive transactions — it
 * refuses `BEGIN` and `SAVEPOINT` — so this client's `withTransaction` (and `reserve`) fail with a
 * `SqlError` saying so, rather than run the statements one by one and pretend they are atomic.
 * Atomic writes go through {@link D1Handle.batch}: D1 runs a batch as one transaction.
 *
 * @internal
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import type { Connection } from "@effect/sql/SqlConnection"
import { SqlError } from "@effect/sql/SqlError"
import * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/**
 * A prepared D1 statement, as far as the library uses it (`D1PreparedStatement` of
 * `@cloudflare/workers-types` has this shape).
 *
 * @since 0.1.0
 */
export interface D1PreparedStatementLike {
  bind(...values: Array<unknown>): D1PreparedStatementLike
  all(): Promise<D1ResultLike>
  raw(): Promise<Array<unknown>>
  run(): Promise<D1ResultLike>
}

/**
 * The result of one D1 statement: its rows (empty for a statement that returns none).
 *
 * @since 0.1.0
 */
export interface D1ResultLike {
  readonly results?: ReadonlyArray<unknown> | undefined
}

/**
 * A D1 database binding (`env.DB` in a Worker), as far as the library uses it: typed by its shape so
 * that the library needs no dependency on `@cloudflare/workers-types`.
 *
 * @since 0.1.0
 */
export interface D1DatabaseLike {
  prepare(query: string): D1PreparedStatementLike
  batch(statements: Array<D1PreparedStatementLike>): Promise<ReadonlyArray<D1ResultLike>>
}

type Row = Record<string, unknown>

/**
 * The binding behind the client, for writes that must be atomic.
 *
 * @internal
 */
export interface D1HandleShape {
  readonly binding: D1DatabaseLike
  /**
   * Runs the statements (built with the client, compiled here) as one D1 batch: one transaction,
   * all or nothing. Returns the rows of each statement. An empty list runs nothing.
   */
  readonly batch: (
    statements: ReadonlyArray<Statement.Statement<unknown>>
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<Row>>, SqlError>
}

/** The D1Handle service. @since 0.1.0 */
export class D1Handle extends Context.Tag("customer360/D1Handle")<D1Handle, D1HandleShape>() {}

/** D1 binds `null`, numbers, strings and byte arrays; it refuses `undefined` and `bigint`. */
const toD1 = (value: unknown): unknown => {
  if (value === undefined) return null
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : String(value)
  if (typeof value === "boolean") return value ? 1 : 0
  if (value instanceof Date) return value.toISOString()
  return value
}

const prepare = (binding: D1DatabaseLike, sql: string, params: ReadonlyArray<unknown>) => {
  const statement = binding.prepare(sql)
  return params.length === 0 ? statement : statement.bind(...params.map(toD1))
}

const failed = (cause: unknown) => new SqlError({ cause, message: "Failed to execute statement" })

const query = <A>(run: () => Promise<A>): Effect.Effect<A, SqlError> =>
  Effect.tryPromise({ try: run, catch: failed })

const rowsOf = (result: D1ResultLike | undefined): ReadonlyArray<Row> => (result?.results ?? []) as ReadonlyArray<Row>

const noTransactions = Effect.fail(
  new SqlError({
    cause: new Error("D1 has no interactive transactions"),
    message: "D1 has no interactive transactions: write atomically with one batch (D1Database runs each write as one)"
  })
)

const make = (binding: D1DatabaseLike) =>
  Effect.gen(function*() {
    const rows = (sql: string, params: ReadonlyArray<unknown>) =>
      query(() => prepare(binding, sql, params).all()).pipe(Effect.map(rowsOf))

    const connection: Connection = {
      execute: (sql, params, transformRows) =>
        transformRows ? Effect.map(rows(sql, params), transformRows) : rows(sql, params),
      executeRaw: (sql, params) => query(() => prepare(binding, sql, params).run()),
      executeValues: (sql, params) =>
        query(() => prepare(binding, sql, params).raw()) as Effect.Effect<ReadonlyArray<ReadonlyArray<unknown>>, SqlError>,
      executeUnprepared: (sql, params, transformRows) =>
        transformRows ? Effect.map(rows(sql, params ?? []), transformRows) : rows(sql, params ?? []),
      executeStream: () => Effect.dieMessage("executeStream is not supported on D1") as any
    }

    const client = yield* SqlClient.make({
      acquirer: Effect.succeed(connection),
      compiler: Statement.makeCompilerSqlite(),
      transactionAcquirer: noTransactions,
      spanAttributes: [["db.system.name", "sqlite"]]
    })

    const handle: D1HandleShape = {
      binding,
      batch: (statements) => {
        if (statements.length === 0) return Effect.succeed([])
        const compiled = Effect.sync(() => statements.map((s) => s.compile()))
        return Effect.flatMap(compiled, (compiled) =>
          query(() => binding.batch(compiled.map(([sql, params]) => prepare(binding, sql, params)))).pipe(
            Effect.map((results) => results.map(rowsOf))
          ))
      }
    }
    return Context.make(SqlClient.SqlClient, client).pipe(Context.add(D1Handle, handle))
  })

/**
 * The client and the handle over a binding. Building it does no I/O.
 *
 * @internal
 */
export const layer = (binding: D1DatabaseLike): Layer.Layer<SqlClient.SqlClient | D1Handle> =>
  Layer.effectContext(make(binding)).pipe(Layer.provide(Reactivity.layer))
