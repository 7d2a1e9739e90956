/**
 * Cloudflare D1 storage (`customer360/d1`): a SQLite-dialect `@effect/sql` client over a D1 binding.
 *
 * @since 0.1.0
 */
export * as D1Database from "./storage/D1Database.js"
