/**
 * SQLite storage (`customer360/sqlite`): better-sqlite3 under an `@effect/sql` client.
 *
 * @since 0.1.0
 */
export * as SqliteDatabase from "./storage/SqliteDatabase.js"
