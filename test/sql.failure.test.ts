/**
 * How driver failures are read (`classify`, src/platform/sql/SqlFailure.ts), on error objects the
 * drivers really produce: node-postgres and pg-pool against the local PostgreSQL (a backend killed
 * by `pg_terminate_backend`, a query on a client that saw it die or that was ended, a pool checkout
 * timeout, a closed pool, a refused connection, a syntax error), better-sqlite3 on a temporary file
 * (`SQLITE_BUSY` from a second connection holding `BEGIN IMMEDIATE`, a unique violation, a closed
 * database). Each is wrapped as the SQL clients wrap it (`@effect/sql-pg`'s "Failed to execute
 * statement", the wallet fast path's "PostgreSQL: … failed").
 *
 * And how they reach the server's log: a failure that means a bug or a damaged database
 * (`unexpected`, `corrupt`) is logged at error level with its cause, a database that cannot be
 * reached at warning level on one line; the `StorageError` a caller gets says nothing of the cause.
 */
import { SqlError } from "@effect/sql/SqlError"
import Sqlite from "better-sqlite3"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashMap from "effect/HashMap"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import pg from "pg"
import { StorageError } from "../src/kernel/Errors.js"
import { sqlFailure } from "../src/platform/sql/Retry.js"
import { classify, corrupt, storage } from "../src/platform/sql/SqlFailure.js"
import { pgEnabled, pgUrl } from "./support/pg.js"

/** A driver error as `@effect/sql-pg` (and the library's SQLite client) hand it on. */
const statementFailed = (cause: unknown) => new SqlError({ cause, message: "Failed to execute statement" })

/** The error `run` rejects with (it must reject). */
const rejection = async (run: () => Promise<unknown>): Promise<unknown> => {
  try {
    await run()
  } catch (e) {
    return e
  }
  throw new Error("expected the driver to fail")
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(!pgEnabled)("classify: node-postgres and pg-pool errors (local PostgreSQL)", () => {
  let admin: pg.Client
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: pgUrl })
    await admin.connect()
  })
  afterAll(async () => {
    await admin.end()
  })

  /** A connected client whose backend this test may kill; its error events are expected. */
  const victim = async () => {
    const client = new pg.Client({ connectionString: pgUrl })
    const events: Array<unknown> = []
    client.on("error", (e) => events.push(e))
    await client.connect()
    const pid = (await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid
    const kill = async () => {
      expect((await admin.query("SELECT pg_terminate_backend($1) AS ok", [pid])).rows[0].ok).toBe(true)
    }
    return { client, events, kill }
  }

  it("a backend terminated between queries: the next query's error (no code: the client is not queryable) is Unavailable", async () => {
    const { client, events, kill } = await victim()
    await kill()
    for (let i = 0; i < 200 && events.length === 0; i++) await sleep(10) // the client sees its connection die
    const error = await rejection(() => client.query("SELECT 1"))
    expect(error).toMatchObject({ message: "Client has encountered a connection error and is not queryable" })
    expect((error as { code?: unknown }).code).toBeUndefined()
    expect(classify(statementFailed(error))).toEqual({ _tag: "Unavailable" })
    // what the client emitted meanwhile: the server's 57P01, then the socket's end
    expect(events.map((e) => (e as { code?: string }).code ?? (e as Error).message)).toContain("57P01")
    for (const e of events) expect(classify(new SqlError({ cause: e, message: "Connection error" }))).toEqual({ _tag: "Unavailable" })
    for (const e of events) expect(classify(statementFailed(e))).toEqual({ _tag: "Unavailable" })
    await client.end()
  })

  it("a backend terminated during a query: 57P01 (admin_shutdown), then `Connection terminated unexpectedly`, are Unavailable", async () => {
    const { client, kill } = await victim()
    const running = rejection(() => client.query("SELECT pg_sleep(10)"))
    await sleep(100)
    await kill()
    const during = await running
    expect(during).toMatchObject({ code: "57P01" })
    expect(classify(statementFailed(during))).toEqual({ _tag: "Unavailable" })
    const after = await rejection(() => client.query("SELECT 1"))
    expect(after).toMatchObject({ message: expect.stringMatching(/^Connection terminated unexpectedly$|not queryable$/) })
    expect(classify(statementFailed(after))).toEqual({ _tag: "Unavailable" })
    await client.end()
  })

  it("a query on an ended client is Unavailable", async () => {
    const client = new pg.Client({ connectionString: pgUrl })
    await client.connect()
    await client.end()
    const error = await rejection(() => client.query("SELECT 1"))
    expect(error).toMatchObject({ message: "Client was closed and is not queryable" })
    expect(classify(statementFailed(error))).toEqual({ _tag: "Unavailable" })
  })

  it("a pool checkout timeout, through pool.query as the wallet fast path sends it, and a closed pool are Unavailable", async () => {
    const pool = new pg.Pool({ connectionString: pgUrl, max: 1, connectionTimeoutMillis: 50 })
    const held = await pool.connect()
    const timeout = await rejection(() => pool.query("SELECT 1"))
    expect(timeout).toMatchObject({ message: "timeout exceeded when trying to connect" })
    expect(classify(new SqlError({ cause: timeout, message: "PostgreSQL: c360_wallet_state failed" }))).toEqual({ _tag: "Unavailable" })
    expect(classify(new SqlError({ cause: timeout, message: "Failed to acquire connection" }))).toEqual({ _tag: "Unavailable" })
    held.release()
    await pool.end()
    const closed = await rejection(() => pool.query("SELECT 1"))
    expect(closed).toMatchObject({ message: "Cannot use a pool after calling end on the pool" })
    expect(classify(new SqlError({ cause: closed, message: "PostgreSQL: c360_wallet_state failed" }))).toEqual({ _tag: "Unavailable" })
  })

  it("a refused connection (ECONNREFUSED) is Unavailable", async () => {
    const pool = new pg.Pool({ connectionString: "postgres://postgres@127.0.0.1:1/none" })
    const error = await rejection(() => pool.query("SELECT 1"))
    expect(error).toMatchObject({ code: "ECONNREFUSED" })
    expect(classify(new SqlError({ cause: error, message: "PostgreSQL: c360_wallet_state failed" }))).toEqual({ _tag: "Unavailable" })
    await pool.end()
  })

  it("a code decides, not the text: a syntax error is Other, a unique violation names its constraint, even when their text reads like a lost connection", async () => {
    const syntax = await rejection(() => admin.query("SELEC 'Connection terminated'"))
    expect(syntax).toMatchObject({ code: "42601" })
    expect(classify(statementFailed(syntax))).toEqual({ _tag: "Other" })
    const raised = await rejection(() => admin.query("DO $$ BEGIN RAISE EXCEPTION 'Connection terminated unexpectedly'; END $$"))
    expect(raised).toMatchObject({ code: "P0001" })
    expect(classify(statementFailed(raised))).toEqual({ _tag: "Other" })
    await admin.query("CREATE TEMP TABLE c360_classify (k int CONSTRAINT c360_classify_k UNIQUE)")
    await admin.query("INSERT INTO c360_classify VALUES (1)")
    const unique = await rejection(() => admin.query("INSERT INTO c360_classify VALUES (1)"))
    expect(classify(statementFailed(unique))).toEqual({ _tag: "UniqueViolation", constraint: "c360_classify_k" })
    const stale = await rejection(() => admin.query("DO $$ BEGIN RAISE EXCEPTION 'c360: stale wallet version'; END $$"))
    expect(classify(statementFailed(stale))).toEqual({ _tag: "StaleWrite" })
  })
})

describe("classify: better-sqlite3 errors (a temporary file)", () => {
  const dir = mkdtempSync(join(tmpdir(), "c360-classify-"))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))

  it("SQLITE_BUSY from a second connection while another holds BEGIN IMMEDIATE is Retryable; a unique violation names its constraint; a closed database is Unavailable", () => {
    const file = join(dir, "busy.db")
    const holder = new Sqlite(file)
    holder.pragma("journal_mode = WAL")
    holder.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT UNIQUE)")
    const other = new Sqlite(file)
    other.pragma("busy_timeout = 0")
    holder.exec("BEGIN IMMEDIATE")
    const busy = (() => {
      try {
        other.prepare("INSERT INTO t (k, v) VALUES (1, 'a')").run()
      } catch (e) {
        return e
      }
    })()
    holder.exec("COMMIT")
    expect(busy).toMatchObject({ code: "SQLITE_BUSY" })
    expect(classify(statementFailed(busy))).toEqual({ _tag: "Retryable" })

    other.prepare("INSERT INTO t (k, v) VALUES (1, 'a')").run()
    const unique = (() => {
      try {
        other.prepare("INSERT INTO t (k, v) VALUES (2, 'a')").run()
      } catch (e) {
        return e
      }
    })()
    expect(unique).toMatchObject({ code: "SQLITE_CONSTRAINT_UNIQUE" })
    expect(classify(statementFailed(unique))).toEqual({ _tag: "UniqueViolation", constraint: "t.v" })

    other.close()
    const closed = (() => {
      try {
        other.prepare("SELECT 1").all()
      } catch (e) {
        return e
      }
    })()
    expect(closed).toMatchObject({ message: "The database connection is not open" })
    expect(classify(statementFailed(closed))).toEqual({ _tag: "Unavailable" })
    holder.close()
  })
})

describe("storage failures on the server's log", () => {
  interface Entry {
    readonly level: string
    readonly message: string
    readonly cause: Cause.Cause<unknown>
    readonly annotations: Record<string, unknown>
  }
  /** Runs `effect` with a logger that records every entry. */
  const logged = <A, E>(effect: Effect.Effect<A, E>) => {
    const entries: Array<Entry> = []
    const logger = Logger.make(({ annotations, cause, logLevel, message }) => {
      entries.push({
        level: logLevel.label,
        message: (Array.isArray(message) ? message : [message]).map(String).join(" "),
        cause,
        annotations: Object.fromEntries(HashMap.toEntries(annotations))
      })
    })
    const exit = Effect.runSyncExit(effect.pipe(Effect.provide(Logger.replace(Logger.defaultLogger, logger))))
    return { exit, entries }
  }
  const failureOf = (exit: Exit.Exit<unknown, unknown>) =>
    Exit.isFailure(exit) ? Option.getOrUndefined(Cause.failureOption(exit.cause)) : undefined

  const driverError = Object.assign(new Error("CHECK constraint failed: balance >= 0 (secret-row-42)"), { code: "SQLITE_CONSTRAINT_CHECK" })
  const unexpected = statementFailed(driverError)

  it("an unexpected failure is logged at error level with its cause; the StorageError carries none of it", () => {
    const { entries, exit } = logged(storage("reading a wallet")(Effect.fail(unexpected)))
    const error = failureOf(exit)
    expect(error).toEqual(new StorageError({ reason: "unexpected", operation: "reading a wallet" }))
    expect((error as StorageError).message).toBe("Storage failed during reading a wallet: the database reported an unexpected error")
    expect(JSON.stringify(error)).not.toMatch(/secret-row-42|CHECK|SQLITE/)
    expect(Object.keys(error as object).sort()).toEqual(["_tag", "operation", "reason"])
    expect((error as Error).cause).toBeUndefined()
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({
      level: "ERROR",
      annotations: { storage_operation: "reading a wallet", storage_reason: "unexpected" }
    })
    expect(entries[0]!.message).toContain("Storage failed during reading a wallet")
    expect(entries[0]!.message).toContain("[SQLITE_CONSTRAINT_CHECK] CHECK constraint failed: balance >= 0 (secret-row-42)")
    expect(Cause.failureOption(entries[0]!.cause)).toEqual(Option.some(unexpected))
  })

  it("a write's unexpected failure (the retrying path) is logged at error level too", () => {
    const { entries, exit } = logged(sqlFailure("a wallet withdraw")(unexpected))
    expect(failureOf(exit)).toEqual(new StorageError({ reason: "unexpected", operation: "a wallet withdraw" }))
    expect(entries.map((e) => [e.level, e.annotations.storage_reason])).toEqual([["ERROR", "unexpected"]])
    expect(Cause.failureOption(entries[0]!.cause)).toEqual(Option.some(unexpected))
  })

  it("an unreachable database is logged at warning level, on one line with its cause's text; a retried write logs nothing until it gives up", () => {
    const gone = new SqlError({ cause: new Error("Client has encountered a connection error and is not queryable"), message: "Failed to execute statement" })
    const read = logged(storage("reading a wallet")(Effect.fail(gone)))
    expect(failureOf(read.exit)).toEqual(new StorageError({ reason: "unavailable", operation: "reading a wallet" }))
    expect(read.entries.map((e) => [e.level, e.annotations.storage_reason])).toEqual([["WARN", "unavailable"]])
    expect(read.entries[0]!.message).toBe(
      "Storage failed during reading a wallet: the database is unavailable (Failed to execute statement: Error Client has encountered a connection error and is not queryable)"
    )
    expect(Cause.isEmpty(read.entries[0]!.cause), "one line: no stack for a database that is away").toBe(true)
    const write = logged(sqlFailure("a wallet withdraw")(gone))
    expect(failureOf(write.exit)).toMatchObject({ _tag: "Retry", reason: "unavailable" })
    expect(write.entries).toEqual([])
  })

  it("a row that does not decode is a corrupt StorageError, logged at error level with the decoding failure", () => {
    const decoding = new Error("Expected a number, actual \"abc\" at balance")
    const { entries, exit } = logged(corrupt("reading a customer")(decoding))
    const error = failureOf(exit)
    expect(error).toEqual(new StorageError({ reason: "corrupt", operation: "reading a customer" }))
    expect((error as StorageError).message).not.toContain("abc")
    expect(entries.map((e) => [e.level, e.annotations.storage_reason])).toEqual([["ERROR", "corrupt"]])
    expect(entries[0]!.message).toContain("Expected a number")
    expect(Cause.failureOption(entries[0]!.cause)).toEqual(Option.some(decoding))
  })
})
