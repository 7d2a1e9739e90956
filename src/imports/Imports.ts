/**
 * The imports service (DOMAIN §11, §11a, docs/imports.md): POS customers, sales and coupons from a
 * CSV or XLSX file, streamed and written in batches. Every record is validated; a bad one is
 * reported (line, column, value, reason) and never stops the good ones nor half-writes; each batch
 * commits as one transaction, so a crash leaves whole rows only and a re-run completes the file —
 * a re-import of the same file changes nothing (`unchanged` = every row).
 *
 * A POS customer with a valid phone is linked to the library's customer of that phone (created with
 * source `import`); a sale of a linked VIP is recorded as a purchase `pos:<invoice>` in the sale's
 * transaction, so RFM, membership and statistics see the POS history.
 *
 * @since 0.5.0
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Customers } from "../customers/index.js"
import { Customer360Config } from "../kernel/Config.js"
import { type StorageError, ValidationError } from "../kernel/Errors.js"
import { encodeId } from "../kernel/Ids.js"
import { randomBytes } from "../kernel/Random.js"
import { FileAccessError, FileFormatError, fromPath, fromWebStream, type SheetRow } from "../platform/files/Source.js"
import { readCsvBatches } from "../platform/files/Csv.js"
import { readXlsxBatches } from "../platform/files/Xlsx.js"
import { Transactions } from "../platform/Transactions.js"
import { MAX_AHEAD_MS, Purchases } from "../purchases/Purchases.js"
import { type Counts, ImportRepository, type StoredRun, type VipRow } from "./ImportRepository.js"
import {
  ImportHeaderInvalid,
  ImportKind,
  isFailure,
  type Mapping,
  type ParsedRow,
  parseRow,
  resolveHeader,
  type RowFailure
} from "./Kinds.js"
import { KeySet } from "./KeySet.js"
import { FAILURES_KEPT } from "./Migrations.js"

/** The file formats. @since 0.5.0 */
export type ImportFormat = "csv" | "xlsx"

/** What `onProgress` is told after each batch. @since 0.5.0 */
export type ImportProgress = Counts

/**
 * Input of `run`: the kind, the file (`path`, or `stream`: bytes as an `AsyncIterable<Uint8Array>`
 * — a Node `Readable` is one — or a web `ReadableStream`), and optionally its `format` (default: the
 * path's extension, else the first bytes: `PK` is XLSX), a column `mapping` (`{ column: headerInFile
 * }`), the `batchSize` (rows a transaction, 1–10,000, default 2,000), `onProgress` (called after
 * each batch; a throw stops the import, which is then `failed`), the `actor` recorded, and for XLSX
 * the `sheet` (index from 0 or name; default the first).
 *
 * @since 0.5.0
 */
export interface ImportInput {
  readonly kind: ImportKind | string
  readonly path?: string | undefined
  readonly stream?: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array> | undefined
  readonly format?: ImportFormat | undefined
  readonly mapping?: Mapping | undefined
  readonly batchSize?: number | undefined
  readonly onProgress?: ((progress: ImportProgress) => void | Promise<void>) | undefined
  readonly actor?: string | undefined
  readonly sheet?: number | string | undefined
}

/**
 * The report of a run: counts of data lines read, rows created, updated (the newest import wins)
 * and unchanged (same values: nothing written), and the failed rows — the first
 * {@link FAILURES_KEPT}, by line — with `failedCount` all of them.
 *
 * @since 0.5.0
 */
export interface ImportReport {
  readonly id: string
  readonly kind: ImportKind
  readonly format: ImportFormat
  readonly status: "running" | "completed" | "failed"
  readonly lines: number
  readonly created: number
  readonly updated: number
  readonly unchanged: number
  readonly failed: ReadonlyArray<RowFailure>
  readonly failedCount: number
  readonly error: string | null
  readonly actor: string | null
  readonly startedAt: Date
  readonly finishedAt: Date | null
}

/** No import has the id. @since 0.5.0 */
export class ImportNotFound extends Schema.TaggedError<ImportNotFound>()("ImportNotFound", { id: Schema.String }) {
  override get message(): string {
    return `No import ${this.id}`
  }
}

/**
 * The import stopped before the end of the file (its `onProgress` threw, or it was interrupted):
 * the batches before it are written, whole; the run is `failed`; running it again completes it.
 *
 * @since 0.5.0
 */
export class ImportAborted extends Schema.TaggedError<ImportAborted>()("ImportAborted", {
  id: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Import ${this.id} stopped: ${this.reason}`
  }
}

/** Every failure of `run`. @since 0.5.0 */
export type ImportError =
  | ValidationError
  | ImportHeaderInvalid
  | FileFormatError
  | FileAccessError
  | ImportAborted
  | StorageError

/**
 * The imports service.
 *
 * @since 0.5.0
 */
export interface ImportsShape {
  /** Imports a file (see {@link ImportInput}); answers the report. */
  readonly run: (input: ImportInput) => Effect.Effect<ImportReport, ImportError>
  /** The stored report of a run. */
  readonly get: (id: string) => Effect.Effect<ImportReport, ImportNotFound | ValidationError | StorageError>
}

/** The imports service. @since 0.5.0 */
export class Imports extends Context.Tag("customer360/Imports")<Imports, ImportsShape>() {}

const MAX_BATCH = 10_000
const DEFAULT_BATCH = 2_000

const describe = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" ? e.message : String(e)

const isAsyncIterable = (u: unknown): u is AsyncIterable<Uint8Array> =>
  typeof u === "object" && u !== null && Symbol.asyncIterator in u

/** The first chunk, and the source with it put back. */
const peek = async (source: AsyncIterable<Uint8Array>): Promise<{ first: Uint8Array | undefined; source: AsyncIterable<Uint8Array> }> => {
  const it = source[Symbol.asyncIterator]()
  const head = await it.next()
  const first = head.done === true ? undefined : head.value
  return {
    first,
    source: {
      [Symbol.asyncIterator]: () => {
        let given = first === undefined
        return {
          next: () => {
            if (!given) {
              given = true
              return Promise.resolve({ done: false, value: first! })
            }
            return it.next()
          },
          return: (v?: unknown) => (it.return ? it.return(v) : Promise.resolve({ done: true as const, value: undefined }))
        }
      }
    }
  }
}

const rowsOf = async (
  source: AsyncIterable<Uint8Array>,
  format: ImportFormat,
  sheet: number | string | undefined
): Promise<AsyncIterable<ReadonlyArray<SheetRow>>> => {
  if (format === "csv") return readCsvBatches(source)
  return readXlsxBatches(source, sheet === undefined ? undefined : { sheet })
}

const decodeInput = (raw: ImportInput): Effect.Effect<
  { kind: ImportKind; format: ImportFormat | undefined; batchSize: number },
  ValidationError
> =>
  Effect.gen(function*() {
    if (typeof raw !== "object" || raw === null) return yield* ValidationError.single("", "an import needs its kind and file")
    if (!(ImportKind.literals as ReadonlyArray<string>).includes(raw.kind as string)) {
      return yield* ValidationError.single("kind", "must be customers, sales or coupons")
    }
    if ((raw.path === undefined) === (raw.stream === undefined)) return yield* ValidationError.single("path", "give exactly one of path and stream")
    if (raw.path !== undefined && (typeof raw.path !== "string" || raw.path === "")) return yield* ValidationError.single("path", "must be a file's path")
    if (raw.stream !== undefined && !isAsyncIterable(raw.stream) && !(typeof ReadableStream !== "undefined" && (raw.stream as unknown) instanceof ReadableStream)) {
      return yield* ValidationError.single("stream", "must be an AsyncIterable of bytes or a ReadableStream")
    }
    if (raw.format !== undefined && raw.format !== "csv" && raw.format !== "xlsx") return yield* ValidationError.single("format", "must be csv or xlsx")
    const batchSize = raw.batchSize ?? DEFAULT_BATCH
    if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH) {
      return yield* ValidationError.single("batchSize", `must be a whole number from 1 to ${MAX_BATCH}`)
    }
    if (raw.mapping !== undefined) {
      if (typeof raw.mapping !== "object" || raw.mapping === null || Object.values(raw.mapping).some((v) => typeof v !== "string")) {
        return yield* ValidationError.single("mapping", "must map column names to the file's headers")
      }
    }
    if (raw.onProgress !== undefined && typeof raw.onProgress !== "function") return yield* ValidationError.single("onProgress", "must be a function")
    return { kind: raw.kind as ImportKind, format: raw.format, batchSize }
  })

const reportOf = (run: StoredRun, failed: ReadonlyArray<RowFailure>): ImportReport => ({
  id: run.id,
  kind: run.kind,
  format: run.format,
  status: run.status,
  lines: run.lines,
  created: run.created,
  updated: run.updated,
  unchanged: run.unchanged,
  failed,
  failedCount: run.failed,
  error: run.error,
  actor: run.actor,
  startedAt: new Date(run.startedAt),
  finishedAt: run.finishedAt === null ? null : new Date(run.finishedAt)
})

/** @since 0.5.0 */
export const make = Effect.gen(function*() {
  const repo = yield* ImportRepository
  const tx = yield* Transactions
  const customers = yield* Customers
  const purchases = yield* Purchases
  const config = yield* Customer360Config
  const ctx = { timeZone: config.timeZone, phonePolicy: config.phone }

  /** Customers: each row with a valid phone linked to its customer (created, source `import`). */
  const linkCustomers = (rows: ReadonlyArray<ParsedRow>) =>
    Effect.gen(function*() {
      const existing = yield* repo.existing("customers", rows)
      const out: Array<ParsedRow> = []
      for (const row of rows) {
        const phone = row.values.phone as string | null
        const stored = existing.get(row.key)
        let customerId: string | null = null
        if (phone !== null) {
          if (stored !== undefined && stored.fingerprint === row.fingerprint && stored.customerId !== null) {
            customerId = stored.customerId
          } else {
            const name = row.values.name as string | null
            const found = yield* customers.getOrCreate({ phone, source: "import", ...(name === null ? {} : { name }) }).pipe(
              Effect.catchTag("ValidationError", () => customers.getOrCreate({ phone, source: "import" }))
            )
            customerId = found.customer.id
          }
        }
        out.push({ ...row, values: { ...row.values, customer_id: customerId } })
      }
      return out
    })

  /** The VIP rows of a customers batch: the last row of each vip id ≠ 0. */
  const vipsOf = (rows: ReadonlyArray<ParsedRow>): ReadonlyArray<VipRow> => {
    const byId = new Map<number, VipRow>()
    for (const r of rows) {
      const vip = r.values.vip_id as number
      if (vip === 0) continue
      byId.delete(vip)
      byId.set(vip, {
        vip_id: vip,
        vip_grade: r.values.vip_grade as string | null,
        registration_date: r.values.registration_date as string | null,
        phone: r.values.phone as string | null,
        customer_id: r.values.customer_id as string | null
      })
    }
    return [...byId.values()]
  }

  /**
   * Sales of one round (at most one new purchase per customer: on a deferred engine a transaction
   * does not read its own writes back): each linked sale with a positive amount and no purchase yet
   * records `pos:<invoice>`, unless its customer is blacklisted (or gone) or the sale is more than
   * 5 minutes ahead of the clock; the sale keeps the reference.
   */
  const recordSales = (rows: ReadonlyArray<ParsedRow>, now: number) =>
    Effect.gen(function*() {
      const linked = rows.filter((r) => r.values.customer_id !== null)
      const existing = yield* repo.existing("sales", linked)
      const wanting = linked.filter((r) => (r.values.sales_amount as number) > 0 && existing.get(r.key)?.purchaseReference == null)
      const tiers = yield* repo.customerTiers([...new Set(wanting.map((r) => r.values.customer_id as string))])
      const recorded = yield* repo.purchasesRecorded(wanting.map((r) => `pos:${r.key}`))
      const out: Array<ParsedRow> = []
      for (const row of rows) {
        const customerId = row.values.customer_id as string | null
        let reference = customerId === null ? null : existing.get(row.key)?.purchaseReference ?? null
        if (customerId !== null && reference === null && (row.values.sales_amount as number) > 0) {
          const candidate = `pos:${row.key}`
          const tier = tiers.get(customerId)
          if (recorded.has(candidate)) {
            reference = candidate
          } else if (tier !== undefined && tier !== "blacklist" && (row.values.sales_at as number) <= now + MAX_AHEAD_MS) {
            yield* purchases.record({
              customerId,
              amount: row.values.sales_amount as number,
              reference: candidate,
              at: new Date(row.values.sales_at as number),
              shopId: row.values.shop_id as string
            })
            reference = candidate
          }
        }
        out.push({ ...row, values: { ...row.values, purchase_reference: reference } })
      }
      return out
    })

  /** Splits sales so that no customer has two new purchases in one transaction. */
  const rounds = (rows: ReadonlyArray<ParsedRow>): ReadonlyArray<ReadonlyArray<ParsedRow>> => {
    const seen = new Map<string, number>()
    const out: Array<Array<ParsedRow>> = [[]]
    for (const r of rows) {
      const c = r.values.customer_id as string | null
      let k = 0
      if (c !== null && (r.values.sales_amount as number) > 0) {
        k = seen.get(c) ?? 0
        seen.set(c, k + 1)
      }
      while (out.length <= k) out.push([])
      out[k]!.push(r)
    }
    return out.filter((g) => g.length > 0)
  }

  /** One transaction: the rows, linked, written with their purchases. */
  const writeRows = (kind: ImportKind, importId: string, rows: ReadonlyArray<ParsedRow>) =>
    tx.withTransaction(Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      if (kind === "customers") {
        const linked = yield* linkCustomers(rows)
        return yield* repo.upsert({ kind, importId, now, rows: linked, vips: vipsOf(linked) })
      }
      if (kind === "sales") {
        const written = yield* recordSales(rows, now)
        return yield* repo.upsert({ kind, importId, now, rows: written, vips: [] })
      }
      return yield* repo.upsert({ kind, importId, now, rows, vips: [] })
    }))

  /**
   * A group of rows in one transaction; when it fails, each row alone, so that only the failing
   * rows are reported failed (nothing of them written).
   */
  const writeGroup = (kind: ImportKind, importId: string, rows: ReadonlyArray<ParsedRow>) =>
    writeRows(kind, importId, rows).pipe(
      Effect.map((c) => ({ ...c, failures: [] as ReadonlyArray<RowFailure> })),
      Effect.catchAll((groupError) =>
        rows.length === 1
          ? Effect.succeed({
            created: 0,
            updated: 0,
            failures: [{ line: rows[0]!.line, column: null, value: null, reason: describe(groupError) }]
          })
          : Effect.reduce(rows, { created: 0, updated: 0, failures: [] as Array<RowFailure> }, (acc, row) =>
            writeRows(kind, importId, [row]).pipe(
              Effect.map((c) => ({ ...acc, created: acc.created + c.created, updated: acc.updated + c.updated })),
              Effect.catchAll((e) =>
                Effect.succeed({ ...acc, failures: [...acc.failures, { line: row.line, column: null, value: null, reason: describe(e) }] })
              )
            ))
      )
    )

  /** A batch: its groups (sales: rounds), then its progress and failures recorded. */
  const writeBatch = (kind: ImportKind, importId: string, rows: ReadonlyArray<ParsedRow>, vipLinks: boolean) =>
    Effect.gen(function*() {
      let linkedRows = rows
      if (kind === "sales" && vipLinks) {
        const links = yield* repo.vipLinks([...new Set(rows.map((r) => r.values.vip_id as number).filter((v) => v !== 0))])
        linkedRows = rows.map((r) => {
          const c = links.get(r.values.vip_id as number)
          return c === undefined ? r : { ...r, values: { ...r.values, customer_id: c } }
        })
      }
      let created = 0
      let updated = 0
      const failures: Array<RowFailure> = []
      for (const group of kind === "sales" ? rounds(linkedRows) : [linkedRows]) {
        const result = yield* writeGroup(kind, importId, group)
        created += result.created
        updated += result.updated
        failures.push(...result.failures)
      }
      return { created, updated, failures }
    })

  const run: ImportsShape["run"] = (raw) =>
    Effect.gen(function*() {
      const input = yield* decodeInput(raw)
      const kind = input.kind
      const pathFormat = raw.path === undefined ? undefined : /\.xlsx$/i.test(raw.path) ? "xlsx" : /\.(csv|txt)$/i.test(raw.path) ? "csv" : undefined
      const bytes: AsyncIterable<Uint8Array> = raw.path !== undefined
        ? fromPath(raw.path)
        : isAsyncIterable(raw.stream)
        ? raw.stream
        : fromWebStream(raw.stream as unknown as ReadableStream<Uint8Array>)
      const fail = (e: unknown): FileFormatError | FileAccessError =>
        e instanceof FileFormatError || e instanceof FileAccessError
          ? e
          : new FileAccessError({ path: raw.path ?? "stream", reason: describe(e) })
      const peeked = yield* Effect.tryPromise({ try: () => peek(bytes), catch: fail })
      const format: ImportFormat = input.format ?? pathFormat ??
        (peeked.first !== undefined && peeked.first[0] === 0x50 && peeked.first[1] === 0x4b ? "xlsx" : "csv")
      const records = yield* Effect.tryPromise({ try: () => rowsOf(peeked.source, format, raw.sheet), catch: fail })
      const it = records[Symbol.asyncIterator]()
      const next = Effect.tryPromise({ try: () => it.next(), catch: fail })
      const close = Effect.promise(() => (it.return ? it.return().then(() => undefined, () => undefined) : Promise.resolve()))

      return yield* Effect.gen(function*() {
        // the header, before anything is written (the records come in chunks: the first chunk's rest
        // is the first data)
        let chunk: ReadonlyArray<SheetRow> = []
        let ended = false
        while (chunk.length === 0 && !ended) {
          const step = yield* next
          if (step.done === true) ended = true
          else chunk = step.value
        }
        const positions = resolveHeader(kind, chunk.length === 0 ? [] : chunk[0]!.cells, raw.mapping)
        chunk = chunk.slice(1)
        if (positions instanceof ImportHeaderInvalid) return yield* positions

        const startedAt = yield* Clock.currentTimeMillis
        const id = encodeId("imp", startedAt, randomBytes(10))
        const actor = raw.actor ?? null
        yield* repo.start({
          id,
          kind,
          format,
          status: "running",
          lines: 0,
          created: 0,
          updated: 0,
          unchanged: 0,
          failed: 0,
          error: null,
          actor,
          startedAt,
          finishedAt: null
        })
        const counts = { lines: 0, created: 0, updated: 0, unchanged: 0, failed: 0 }
        const kept: Array<RowFailure> = []
        const keys = new KeySet()
        let batch: Array<ParsedRow> = []
        let pending: Array<RowFailure> = []

        let lines = 0

        /** A batch written, then its progress recorded — while the next batch is read and parsed. */
        const write = (rows: ReadonlyArray<ParsedRow>, early: ReadonlyArray<RowFailure>, linesRead: number) => Effect.gen(function*() {
          const result = yield* writeBatch(kind, id, rows, kind === "sales")
          counts.lines = linesRead
          counts.created += result.created
          counts.updated += result.updated
          counts.unchanged += rows.length - result.created - result.updated - result.failures.length
          const failures = [...early, ...result.failures].sort((a, b) => a.line - b.line)
          counts.failed += failures.length
          const room = Math.max(0, FAILURES_KEPT - kept.length)
          const keep = failures.slice(0, room)
          kept.push(...keep)
          yield* repo.progress(id, counts, keep)
          if (raw.onProgress !== undefined) {
            const onProgress = raw.onProgress
            const snapshot = { ...counts }
            yield* Effect.tryPromise({
              try: async () => {
                await onProgress(snapshot)
              },
              catch: (e) => new ImportAborted({ id, reason: `onProgress failed: ${describe(e)}` })
            })
          }
        })

        // at most one batch in the database while the next one is parsed: batches commit in order
        let inflight: Fiber.RuntimeFiber<void, ImportError> | undefined
        const settle = Effect.suspend(() => {
          const f = inflight
          inflight = undefined
          return f === undefined ? Effect.void : Fiber.join(f)
        })
        const flush = Effect.gen(function*() {
          const rows = batch
          const early = pending
          batch = []
          pending = []
          yield* settle
          inflight = yield* Effect.fork(write(rows, early, lines))
        })

        const body = Effect.gen(function*() {
          for (;;) {
            if (chunk.length === 0) {
              if (ended) break
              const step = yield* next
              if (step.done === true) break
              chunk = step.value
              continue
            }
            const records = chunk
            chunk = []
            for (const record of records) {
            if (record.cells.every((c) => c === null || (typeof c === "string" && c.trim() === ""))) continue
            lines += 1
            const parsed = parseRow(kind, positions, record, ctx)
            if (isFailure(parsed)) {
              pending.push(parsed)
            } else {
              const firstLine = keys.add(parsed.key, parsed.line)
              if (firstLine !== 0) {
                pending.push({
                  line: parsed.line,
                  column: null,
                  value: parsed.key.replace("\u0000", " / "),
                  reason: `duplicate key, first on line ${firstLine}`
                })
              } else {
                batch.push(parsed)
              }
            }
            if (batch.length + pending.length >= input.batchSize) yield* flush
            }
          }
          if (batch.length + pending.length > 0 || lines === 0) yield* flush
          yield* settle
        }).pipe(
          // a failure while a batch is in the database: that batch finishes (committed or not) first
          Effect.onError(() => Effect.suspend(() => (inflight === undefined ? Effect.void : Effect.asVoid(Fiber.await(inflight)))))
        )

        const finished = (status: "completed" | "failed", error: string | null) =>
          Effect.flatMap(Clock.currentTimeMillis, (finishedAt) => Effect.as(repo.finish(id, { status, error, finishedAt }), finishedAt))
        const finishedAt = yield* body.pipe(
          Effect.onError((cause) =>
            Effect.ignore(finished(
              "failed",
              Option.match(Cause.failureOption(cause), { onNone: () => "interrupted or failed unexpectedly", onSome: describe })
            ))
          ),
          Effect.zipRight(finished("completed", null))
        )
        return reportOf({ ...counts, id, kind, format, status: "completed", error: null, actor, startedAt, finishedAt }, kept)
      }).pipe(Effect.ensuring(close))
    })

  const get: ImportsShape["get"] = (rawId) =>
    Effect.gen(function*() {
      if (typeof rawId !== "string" || rawId.length === 0 || rawId.length > 100) return yield* ValidationError.single("id", "must be an import's id")
      const stored = yield* repo.get(rawId)
      if (Option.isNone(stored)) return yield* new ImportNotFound({ id: rawId })
      return reportOf(stored.value, yield* repo.failures(rawId, FAILURES_KEPT))
    })

  return Imports.of({ run, get })
})

/** The service, over the import repository, customers and purchases. @since 0.5.0 */
export const layer = Layer.effect(Imports, make)
