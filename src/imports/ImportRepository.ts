/**
 * Import storage: the port and its one SQL implementation, the same on SQLite, PostgreSQL and D1.
 * Every write goes through the unit of work (docs/transactions.md); one statement writes a whole
 * batch on every engine: on PostgreSQL each column is one text parameter (`string_to_array`, zipped
 * by `unnest`), on SQLite's own connection the rows are bound VALUES, on D1 (at most 100 values a
 * statement) and deferred SQLite one JSON parameter (`platform/sql/JsonRows.ts`).
 *
 * A batch is one set-based upsert: `INSERT … SELECT … ON CONFLICT (key) DO UPDATE SET …, revision =
 * revision + 1 WHERE <the stored fingerprint differs, or the link does> RETURNING revision`. The
 * rows it returns are the ones created (revision 1) or updated; the others were unchanged and
 * nothing of them was written. Uniqueness is the database's: no row is looked up to decide between
 * an insert and an update.
 *
 * @since 0.5.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { StorageError } from "../kernel/Errors.js"
import { int, textOrNull } from "../platform/sql/Columns.js"
import { jsonRows } from "../platform/sql/JsonRows.js"
import { storage } from "../platform/sql/SqlFailure.js"
import { UnitOfWork } from "../platform/UnitOfWork.js"
import { type ImportKind, KEYS, type ParsedRow, type RowFailure, STORED, TABLES } from "./Kinds.js"

/** A run as stored in `c360_imports`. @since 0.5.0 */
export interface StoredRun {
  readonly id: string
  readonly kind: ImportKind
  readonly format: "csv" | "xlsx"
  readonly status: "running" | "completed" | "failed"
  readonly lines: number
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly failed: number
  readonly error: string | null
  readonly actor: string | null
  readonly startedAt: number
  readonly finishedAt: number | null
}

/** The counts of a run so far. @since 0.5.0 */
export interface Counts {
  readonly lines: number
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly failed: number
}

/** What the database holds of a row about to be written (its key's stored state). @since 0.5.0 */
export interface ExistingRow {
  readonly fingerprint: string
  readonly customerId: string | null
  readonly purchaseReference: string | null
}

/** A VIP's row of `c360_pos_vips`. @since 0.5.0 */
export interface VipRow {
  readonly vip_id: number
  readonly vip_grade: string | null
  readonly registration_date: string | null
  readonly phone: string | null
  readonly customer_id: string | null
}

/**
 * The import repository.
 *
 * @since 0.5.0
 */
export class ImportRepository extends Context.Tag("customer360/ImportRepository")<ImportRepository, {
  readonly start: (run: StoredRun) => Effect.Effect<void, StorageError>
  /** The run's counts so far, and the failed rows (at most the ones kept) found since the last call. */
  readonly progress: (id: string, counts: Counts, failures: ReadonlyArray<RowFailure>) => Effect.Effect<void, StorageError>
  readonly finish: (
    id: string,
    end: { readonly status: "completed" | "failed"; readonly error: string | null; readonly finishedAt: number }
  ) => Effect.Effect<void, StorageError>
  readonly get: (id: string) => Effect.Effect<Option.Option<StoredRun>, StorageError>
  /** The run's failed rows, by line. */
  readonly failures: (id: string, limit: number) => Effect.Effect<ReadonlyArray<RowFailure>, StorageError>
  /** The stored state of the rows' keys (customers and sales). */
  readonly existing: (kind: ImportKind, rows: ReadonlyArray<ParsedRow>) => Effect.Effect<ReadonlyMap<string, ExistingRow>, StorageError>
  /** The library customer linked to each vip id that has one. */
  readonly vipLinks: (vipIds: ReadonlyArray<number>) => Effect.Effect<ReadonlyMap<number, string>, StorageError>
  /** The tier of each customer, by id (merged and missing ones left out). */
  readonly customerTiers: (ids: ReadonlyArray<string>) => Effect.Effect<ReadonlyMap<string, string>, StorageError>
  /** Which of the references are recorded purchases. */
  readonly purchasesRecorded: (references: ReadonlyArray<string>) => Effect.Effect<ReadonlySet<string>, StorageError>
  /**
   * Upserts the rows (and, for customers, the VIP rows), as the transaction's last write: how many
   * were created and updated (the others were unchanged, and not written).
   */
  readonly upsert: (write: {
    readonly kind: ImportKind
    readonly importId: string
    readonly now: number
    readonly rows: ReadonlyArray<ParsedRow>
    readonly vips: ReadonlyArray<VipRow>
  }) => Effect.Effect<{ readonly created: number; readonly updated: number }, StorageError>
}>() {}

const runOf = (r: Record<string, unknown>): StoredRun => ({
  id: String(r.id),
  kind: String(r.kind) as ImportKind,
  format: String(r.format) as "csv" | "xlsx",
  status: String(r.status) as StoredRun["status"],
  lines: int(r.lines),
  created: int(r.created),
  updated: int(r.updated),
  unchanged: int(r.unchanged),
  failed: int(r.failed),
  error: textOrNull(r.error),
  actor: textOrNull(r.actor),
  startedAt: int(r.started_at),
  finishedAt: r.finished_at === null || r.finished_at === undefined ? null : int(r.finished_at)
})

const UNIT = "\u001f"
const NULL_MARK = "\u001e"

/**
 * The rows' columns (the stored ones, then fingerprint and line) each as one text: the values
 * each after a U+001F, NULL written U+001E — or undefined when a value holds either character (the
 * batch then travels as JSON).
 */
const pgColumns = (
  rows: ReadonlyArray<ParsedRow>,
  stored: ReadonlyArray<readonly [string, "text" | "bigint"]>
): ReadonlyArray<string> | undefined => {
  const out: Array<string> = []
  const column = (get: (r: ParsedRow) => unknown): boolean => {
    const parts: Array<string> = new Array(rows.length)
    for (let i = 0; i < rows.length; i++) {
      const v = get(rows[i]!)
      if (v === null || v === undefined) {
        parts[i] = NULL_MARK
      } else {
        const t = String(v)
        if (t.includes(UNIT) || t.includes(NULL_MARK)) return false
        parts[i] = t
      }
    }
    out.push(UNIT + parts.join(UNIT)) // a leading empty element, sliced off: a lone '' stays a value
    return true
  }
  for (const [n] of stored) if (!column((r) => r.values[n])) return undefined
  if (!column((r) => r.fingerprint) || !column((r) => r.line)) return undefined
  return out
}

/** @since 0.5.0 */
export const make = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const uow = yield* UnitOfWork
  const isPg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })

  const field = (name: string, type: "text" | "bigint") =>
    type === "bigint" ? `CAST(value ->> '${name}' AS BIGINT)` : `value ->> '${name}'`

  const upsertStatement = (kind: ImportKind, rows: ReadonlyArray<ParsedRow>, importId: string, now: number) => {
    const table = TABLES[kind]
    const stored = STORED[kind]
    const keys = KEYS[kind]
    const columns = [...stored.map(([n]) => n), "fingerprint", "revision", "import_id", "line", "created_at", "updated_at"]
    const selects = [...stored.map(([n, t]) => field(n, t)), "value ->> 'fingerprint'", "1"]
    const sets = stored.filter(([n]) => !keys.includes(n)).map(([n]) =>
      n === "purchase_reference" ? `${n} = COALESCE(${table}.${n}, excluded.${n})` : `${n} = excluded.${n}`
    )
    const changed = [`${table}.fingerprint <> excluded.fingerprint`]
    if (kind !== "coupons") changed.push(`${table}.customer_id IS DISTINCT FROM excluded.customer_id`)
    if (kind === "sales") changed.push(`(${table}.purchase_reference IS NULL AND excluded.purchase_reference IS NOT NULL)`)
    const conflict = `ON CONFLICT (${keys.join(", ")}) DO UPDATE SET ${
      [...sets, "fingerprint = excluded.fingerprint", `revision = ${table}.revision + 1`, "import_id = excluded.import_id",
        "line = excluded.line", "updated_at = excluded.updated_at"].join(", ")
    } WHERE ${changed.join(" OR ")} RETURNING revision`
    if (!isPg && !uow.deferred) {
      // SQLite on its own connection: bound VALUES, as many rows a statement as its 32,766 variables allow
      const width = columns.length
      const perStatement = Math.max(1, Math.floor(32_000 / width))
      const statements: Array<Statement.Statement<unknown>> = []
      const tuple = `(${Array.from({ length: width }, () => "?").join(", ")})`
      for (let at = 0; at < rows.length; at += perStatement) {
        const chunk = rows.slice(at, at + perStatement)
        const params: Array<unknown> = []
        for (const r of chunk) {
          for (const [n] of stored) params.push(r.values[n] ?? null)
          params.push(r.fingerprint, 1, importId, r.line, now, now)
        }
        statements.push(sql.unsafe(
          `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${chunk.map(() => tuple).join(", ")} ${conflict}`,
          params
        ))
      }
      return statements
    }
    if (isPg) {
      const text = pgColumns(rows, stored)
      if (text !== undefined) {
        // PostgreSQL: each column one text parameter split by string_to_array and zipped by unnest —
        // decoding a batch costs a few milliseconds where json ->> re-parses each row per field
        const names = [...stored.map(([n]) => n), "fingerprint", "line"]
        const types = [...stored.map(([, t]) => t), "text", "bigint"] as const
        const arrays = text.map((_, i) =>
          types[i] === "bigint"
            ? `CAST((string_to_array($${i + 1}, E'\\x1f', E'\\x1e'))[2:] AS bigint[])`
            : `(string_to_array($${i + 1}, E'\\x1f', E'\\x1e'))[2:]`
        )
        return [sql.unsafe(
          `INSERT INTO ${table} (${columns.join(", ")})
          SELECT ${[...names.slice(0, -1).map((n) => `r.${n}`), "1"].join(", ")}, CAST($${text.length + 1} AS TEXT), r.line,
            CAST($${text.length + 2} AS BIGINT), CAST($${text.length + 2} AS BIGINT)
          FROM unnest(${arrays.join(", ")}) AS r(${names.join(", ")}) ${conflict}`,
          [...text, importId, now]
        )]
      }
    }
    const payload = rows.map((r) => ({ ...r.values, fingerprint: r.fingerprint, line: r.line }))
    return [sql`INSERT INTO ${sql.literal(table)} (${sql.literal(columns.join(", "))})
      SELECT ${sql.literal(selects.join(", "))}, CAST(${importId} AS TEXT), CAST(value ->> 'line' AS BIGINT),
        CAST(${now} AS BIGINT), CAST(${now} AS BIGINT)
      FROM ${jsonRows(sql, payload)} WHERE true
      ON CONFLICT (${sql.literal(keys.join(", "))}) DO UPDATE SET ${
      sql.literal([...sets, "fingerprint = excluded.fingerprint", `revision = ${table}.revision + 1`, "import_id = excluded.import_id",
        "line = excluded.line", "updated_at = excluded.updated_at"].join(", "))
    }
      WHERE ${sql.literal(changed.join(" OR "))}
      RETURNING revision`]
  }

  const vipsStatement = (vips: ReadonlyArray<VipRow>, now: number) =>
    sql`INSERT INTO c360_pos_vips (vip_id, vip_grade, registration_date, phone, customer_id, updated_at)
      SELECT CAST(value ->> 'vip_id' AS BIGINT), value ->> 'vip_grade', value ->> 'registration_date', value ->> 'phone',
        value ->> 'customer_id', CAST(${now} AS BIGINT)
      FROM ${jsonRows(sql, vips)} WHERE true
      ON CONFLICT (vip_id) DO UPDATE SET vip_grade = excluded.vip_grade, registration_date = excluded.registration_date,
        phone = excluded.phone, customer_id = excluded.customer_id, updated_at = excluded.updated_at
      WHERE c360_pos_vips.vip_grade IS DISTINCT FROM excluded.vip_grade
        OR c360_pos_vips.registration_date IS DISTINCT FROM excluded.registration_date
        OR c360_pos_vips.phone IS DISTINCT FROM excluded.phone
        OR c360_pos_vips.customer_id IS DISTINCT FROM excluded.customer_id`

  const read = <A>(what: string, statement: Statement.Statement<A>) => storage(what)(statement)

  return ImportRepository.of({
    start: (run) =>
      uow.write({
        operation: "starting an import",
        statements: [sql`INSERT INTO c360_imports (id, kind, format, status, lines, created, updated, unchanged, failed, error, actor,
          started_at, finished_at) VALUES (${run.id}, ${run.kind}, ${run.format}, ${run.status}, 0, 0, 0, 0, 0, NULL, ${run.actor},
          ${run.startedAt}, NULL)`]
      }),
    progress: (id, c, failures) =>
      uow.write({
        operation: "recording an import's progress",
        statements: [
          sql`UPDATE c360_imports SET lines = ${c.lines}, created = ${c.created}, updated = ${c.updated},
            unchanged = ${c.unchanged}, failed = ${c.failed} WHERE id = ${id}`,
          ...(failures.length === 0 ? [] : [sql`INSERT INTO c360_import_failures (import_id, line, column_name, value, reason)
            SELECT CAST(${id} AS TEXT), CAST(value ->> 'line' AS BIGINT), value ->> 'column', value ->> 'value', value ->> 'reason'
            FROM ${jsonRows(sql, failures)} WHERE true`])
        ]
      }),
    finish: (id, end) =>
      uow.write({
        operation: "finishing an import",
        statements: [sql`UPDATE c360_imports SET status = ${end.status}, error = ${end.error}, finished_at = ${end.finishedAt}
          WHERE id = ${id}`]
      }),
    get: (id) =>
      Effect.map(read("reading an import", sql`SELECT * FROM c360_imports WHERE id = ${id}`), (rows) =>
        rows.length === 0 ? Option.none() : Option.some(runOf(rows[0] as Record<string, unknown>))),
    failures: (id, limit) =>
      Effect.map(
        read("reading an import's failures", sql<Record<string, unknown>>`SELECT line, column_name, value, reason FROM c360_import_failures
          WHERE import_id = ${id} ORDER BY line LIMIT ${limit}`),
        (rows) =>
          rows.map((r) => ({ line: int(r.line), column: textOrNull(r.column_name), value: textOrNull(r.value), reason: String(r.reason) }))
      ),
    existing: (kind, rows) => {
      if (rows.length === 0 || kind === "coupons") return Effect.succeed(new Map())
      const statement = kind === "customers"
        ? sql<Record<string, unknown>>`SELECT t.vip_id AS k1, t.phone_key AS k2, t.fingerprint, t.customer_id, NULL AS purchase_reference
            FROM c360_pos_customers t JOIN (SELECT CAST(value ->> 'v' AS BIGINT) AS v, value ->> 'p' AS p
              FROM ${jsonRows(sql, rows.map((r) => ({ v: r.values.vip_id, p: r.values.phone_key })))}) k
            ON t.vip_id = k.v AND t.phone_key = k.p`
        : sql<Record<string, unknown>>`SELECT t.invoice_number AS k1, NULL AS k2, t.fingerprint, t.customer_id, t.purchase_reference
            FROM c360_pos_sales t WHERE t.invoice_number IN (SELECT value ->> 'k'
              FROM ${jsonRows(sql, rows.map((r) => ({ k: r.values.invoice_number })))})`
      return Effect.map(read("reading imported rows", statement), (found) =>
        new Map(found.map((r) => [
          kind === "customers" ? `${int(r.k1)}\u0000${String(r.k2)}` : String(r.k1),
          { fingerprint: String(r.fingerprint), customerId: textOrNull(r.customer_id), purchaseReference: textOrNull(r.purchase_reference) }
        ])))
    },
    vipLinks: (vipIds) =>
      vipIds.length === 0 ? Effect.succeed(new Map()) : Effect.map(
        read(
          "reading the VIPs' customers",
          isPg
            ? sql<Record<string, unknown>>`SELECT vip_id, customer_id FROM c360_pos_vips
              WHERE customer_id IS NOT NULL AND vip_id = ANY (CAST(string_to_array(${vipIds.join(",")}, ',') AS bigint[]))`
            : sql<Record<string, unknown>>`SELECT vip_id, customer_id FROM c360_pos_vips
              WHERE customer_id IS NOT NULL AND vip_id IN (SELECT CAST(value ->> 'v' AS BIGINT)
                FROM ${jsonRows(sql, vipIds.map((v) => ({ v })))})`
        ),
        (rows) => new Map(rows.map((r) => [int(r.vip_id), String(r.customer_id)]))
      ),
    customerTiers: (ids) =>
      ids.length === 0 ? Effect.succeed(new Map()) : Effect.map(
        read("reading customers' tiers", sql<Record<string, unknown>>`SELECT id, tier FROM c360_customers
          WHERE merged_into IS NULL AND id IN (SELECT value ->> 'i' FROM ${jsonRows(sql, ids.map((i) => ({ i })))})`),
        (rows) => new Map(rows.map((r) => [String(r.id), String(r.tier)]))
      ),
    purchasesRecorded: (references) =>
      references.length === 0 ? Effect.succeed(new Set()) : Effect.map(
        read("reading purchases", sql<Record<string, unknown>>`SELECT reference FROM c360_purchases
          WHERE reference IN (SELECT value ->> 'r' FROM ${jsonRows(sql, references.map((r) => ({ r })))})`),
        (rows) => new Set(rows.map((r) => String(r.reference)))
      ),
    upsert: ({ importId, kind, now, rows, vips }) =>
      rows.length === 0 && vips.length === 0 ? Effect.succeed({ created: 0, updated: 0 }) : Effect.map(
        uow.writeNow({
          operation: `importing ${kind}`,
          statements: [
            ...(vips.length === 0 ? [] : [vipsStatement(vips, now)]),
            ...(rows.length === 0 ? [] : upsertStatement(kind, rows, importId, now))
          ]
        }),
        (results) => {
          const returned = results.slice(vips.length === 0 ? 0 : 1).flat()
          const created = returned.filter((r) => int(r.revision) === 1).length
          return { created, updated: returned.length - created }
        }
      )
  })
})

/** @since 0.5.0 */
export const layer: Layer.Layer<ImportRepository, never, SqlClient.SqlClient | UnitOfWork> = Layer.effect(ImportRepository, make)
