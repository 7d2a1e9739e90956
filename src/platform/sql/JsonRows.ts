/**
 * Rows that travel as one JSON array bound to one parameter, as a table in `FROM`: columns `value`
 * (read fields with `value->>'name'`, cast non-text fields with `CAST(… AS BIGINT)`) and `key` (the
 * position, for `ORDER BY key`). One statement then writes any number of rows while binding one
 * value (D1 binds at most 100 per statement), written once for every engine.
 *
 * @internal
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"

/** @internal `json_each(?)` on SQLite and D1; `json_array_elements(?) WITH ORDINALITY` on PostgreSQL. */
export const jsonRows = (sql: SqlClient.SqlClient, rows: ReadonlyArray<unknown>): Statement.Fragment =>
  sql.onDialectOrElse({
    pg: () => sql`json_array_elements(CAST(${JSON.stringify(rows)} AS json)) WITH ORDINALITY AS j(value, key)`,
    orElse: () => sql`json_each(${JSON.stringify(rows)})`
  })
