/**
 * Reading column values the same way on every engine: PostgreSQL returns `BIGINT` as text,
 * better-sqlite3 and D1 as numbers; JSON columns are text everywhere.
 *
 * @since 0.2.0
 */

/** A `BIGINT` column as a number (`NaN` for anything that is not one). @since 0.2.0 */
export const int = (v: unknown): number =>
  typeof v === "number" ? v : typeof v === "string" ? Number(v) : typeof v === "bigint" ? Number(v) : NaN

/** An epoch-milliseconds column as a `Date`, `null` for SQL `NULL`. @since 0.2.0 */
export const instant = (v: unknown): Date | null => (v === null || v === undefined ? null : new Date(int(v)))

/** A nullable text column. @since 0.2.0 */
export const textOrNull = (v: unknown): string | null => (v === null || v === undefined ? null : String(v))

/** A JSON text column, parsed (`null` for SQL `NULL`). @since 0.2.0 */
export const jsonColumn = (v: unknown): unknown => (v === null || v === undefined ? null : JSON.parse(String(v)))
