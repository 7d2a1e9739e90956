/**
 * A unit of work's batch on PostgreSQL in **one round trip**: the statements are sent together as
 * one multi-statement simple query, which PostgreSQL runs as one implicit transaction — all of them
 * or none — or, inside a caller's own SQL transaction, as part of it. With the deferred unit of work
 * this is D1's model on PostgreSQL: a transaction's reads go to the database as they come, its writes
 * go at commit, together; a write planned on a read that turned out stale is refused by its guard
 * (a unique key, a version trigger) and the transaction runs again (docs/transactions.md). What the
 * round trip saves is a `BEGIN`, a `COMMIT`, a savepoint per write and a round trip per statement —
 * and a lock a write takes (a ticket's year counter) is held only while the server runs the batch,
 * never while the application thinks.
 *
 * The simple query protocol takes no parameters, so each statement's parameters are written into
 * its text as literals: strings (quoted by the driver's `escapeLiteral`), numbers, big integers and
 * booleans as quoted literals of unknown type — exactly what the driver sends as untyped text
 * parameters, resolved by PostgreSQL from their context the same way — and `null` as `NULL`. A
 * statement with a parameter of any other kind, or with text this module does not parse with
 * certainty (a dollar-quoted body), is not rewritten: the batch then runs statement by statement in
 * one SQL transaction instead. A single statement is sent as it is, with bound parameters.
 *
 * @internal
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type { SqlError } from "@effect/sql/SqlError"
import type * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import pg from "pg"
import { type Batch, sqlBatch } from "../UnitOfWork.js"

type Row = Record<string, unknown>

const literal = (v: unknown): string | undefined => {
  if (v === null || v === undefined) return "NULL"
  switch (typeof v) {
    case "string":
      return v.includes("\u0000") ? undefined : pg.escapeLiteral(v)
    case "number":
      return Number.isFinite(v) ? `'${String(v)}'` : undefined
    case "bigint":
      return `'${v.toString()}'`
    case "boolean":
      return v ? "'true'" : "'false'"
    default:
      return undefined
  }
}

/**
 * The statement's text with its `$n` parameters written in as literals, or `undefined` when that is
 * not certain to mean the same (see the module documentation).
 */
export const inline = (text: string, params: ReadonlyArray<unknown>): string | undefined => {
  let out = ""
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text[i]!
    if (c === "'" || c === "\"") {
      // a quoted string or identifier, copied as is (a doubled quote stays inside it)
      let j = i + 1
      for (; j < n; j++) {
        if (text[j] === c) {
          if (text[j + 1] === c) j++
          else break
        }
      }
      if (j >= n) return undefined
      out += text.slice(i, j + 1)
      i = j + 1
      continue
    }
    if (c === "$") {
      let j = i + 1
      while (j < n && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++
      if (j === i + 1) return undefined // `$$` or `$tag$`: a dollar-quoted body
      const value = literal(params[Number(text.slice(i + 1, j)) - 1])
      if (value === undefined) return undefined
      out += value
      i = j
      continue
    }
    out += c
    i++
  }
  return out
}

/**
 * The batch over the PostgreSQL client: one round trip for the whole list (see the module
 * documentation), each statement's rows in order.
 *
 * @internal
 */
export const pgBatch = (sql: SqlClient.SqlClient): Batch => {
  const fallback = sqlBatch(sql)
  return (statements) => {
    if (statements.length <= 1) return fallback(statements)
    const parts: Array<string> = []
    for (const s of statements) {
      const [text, params] = (s as Statement.Statement<unknown>).compile()
      const inlined = inline(text, params)
      if (inlined === undefined) return fallback(statements)
      parts.push(inlined)
    }
    return Effect.map(
      sql.unsafe<Row>(parts.join(";\n")) as unknown as Effect.Effect<ReadonlyArray<unknown>, SqlError>,
      // several statements answer one array of rows each
      (results) => results as ReadonlyArray<ReadonlyArray<Row>>
    )
  }
}
