/**
 * SQLite storage (`customer360/sqlite`), through `@effect/sql-sqlite-node`.
 *
 * @since 0.1.0
 */
export * as SqliteDatabase from "./adapters/sqlite/SqliteDatabase.js"
