/**
 * PostgreSQL storage (`customer360/pg`), through `@effect/sql-pg`.
 *
 * @since 0.1.0
 */
export * as PgDatabase from "./storage/PgDatabase.js"
