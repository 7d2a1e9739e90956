/**
 * One HTTP server of the `http` benchmark (bench/http.ts), in its own process so that the load
 * generator does not share its event loop. Started by bench/http.ts as
 * `node --import tsx bench/support/http-server.ts`
 * (it serves only when it is the main module) with:
 *
 * - `MODE=library`: the Express host of the library (`createApp` from examples/express/app.ts) on
 *   PostgreSQL, with a pool of `C360_BENCH_POOL` connections and the bearer token
 *   `C360_BENCH_TOKEN` as a manager.
 * - `MODE=bare`: an Express 5 app with a `pg` Pool of the same size doing the same work by hand,
 *   with straightforward SQL on the library's schema, the way an application developer would write
 *   it (unnamed parameterised statements, one `await` per statement):
 *   - `POST /api/wallet/:phone/deposit` `{ amount, reference, source, note? }`: `express.json()`, the
 *     same bearer check and input checks, then one transaction — `BEGIN`; the customer, the wallet
 *     (`FOR UPDATE`) and its active credits by phone; the operation row (reference, fingerprint, JSON
 *     result); the wallet's balance and version; the ledger entry; the outbox row with the event JSON;
 *     `COMMIT` — and the result as JSON. The rows, their ids and their JSON are those the library
 *     writes (bench/http.ts checks that on one deposit made on both sides). A reference already
 *     recorded replays its result, or answers 409 for another payload, as the library does.
 *   - `GET /api/wallet/:phone`: one SELECT of the wallet and its active credits (in spend order), and
 *     the library's wallet view as JSON (virtual balance of the spendable credits, a credit past its
 *     expiry shown `expired`).
 * - `DATABASE_URL`, `PORT` (0: any free port), `C360_BENCH_POOL` (default 16), `C360_BENCH_TOKEN`.
 *
 * Prints `listening <url>` on stdout once it accepts connections. Stops (draining running requests,
 * closing its pool) on SIGTERM or SIGINT, and when its stdin ends (the benchmark died).
 */
import type { Server } from "node:http"
import { pathToFileURL } from "node:url"
import express from "express"
import pg from "pg"
import { createApp } from "../../examples/express/app.js"
import { newId } from "./ids.js"
import type { CreditRow } from "./rows.js"

const env = process.env
const MODE = env.MODE
const DATABASE_URL = env.DATABASE_URL
const PORT = Number(env.PORT ?? 0)
const POOL = Number(env.C360_BENCH_POOL ?? 16)
const TOKEN = env.C360_BENCH_TOKEN ?? "bench-manager-token"

// --- bare -----------------------------------------------------------------------------------------

/** The wallet and its active credits, spend order, by phone (`FOR UPDATE` of the wallet in a deposit). */
const walletSql = (lock: boolean) => `SELECT c.id AS customer_id, w.balance,
    (SELECT coalesce(json_agg(json_build_object('id', vc.id, 'amount', vc.amount, 'remaining', vc.remaining,
        'issued_at', vc.issued_at, 'expires_at', vc.expires_at, 'reason', vc.reason, 'ticket_id', vc.ticket_id)
        ORDER BY vc.expires_at, vc.issued_at, vc.id), '[]'::json)
      FROM c360_virtual_credits vc WHERE vc.customer_id = c.id AND vc.status = 'active') AS credits
  FROM c360_customers c JOIN c360_wallets w ON w.customer_id = c.id
  WHERE c.phone = $1${lock ? " FOR UPDATE OF w" : ""}`

const iso = (ms: number) => new Date(ms).toISOString()

/** The wallet as the API shows it (the library's `walletView`), credits already in spend order. */
const walletView = (customerId: string, balance: number, credits: ReadonlyArray<CreditRow>, now: number) => {
  let virtualBalance = 0
  const view = credits.map((c) => {
    const spendable = now < Number(c.expires_at)
    if (spendable) virtualBalance += Number(c.remaining)
    return {
      id: c.id,
      amount: Number(c.amount),
      remaining: Number(c.remaining),
      issuedAt: iso(Number(c.issued_at)),
      expiresAt: iso(Number(c.expires_at)),
      status: spendable ? "active" : "expired",
      reason: c.reason,
      ticketId: c.ticket_id
    }
  })
  return { customerId, balance, virtualBalance, available: balance + virtualBalance, credits: view }
}

const fail = (res: express.Response, status: number, code: string, message: string) =>
  res.status(status).json({ error: { code, message } })

const PHONE = /^0\d{9,10}$/
const SOURCES = new Set(["bank_transfer", "manual", "refund"])

const bareApp = (pool: pg.Pool): express.Express => {
  const app = express()
  app.disable("x-powered-by")
  const authorized = (req: express.Request, res: express.Response): boolean => {
    if (req.headers.authorization === `Bearer ${TOKEN}`) return true
    fail(res, 401, "UNAUTHORIZED", "A valid bearer token is required")
    return false
  }

  app.get("/api/wallet/:phone", async (req, res) => {
    if (!authorized(req, res)) return
    const phone = req.params.phone
    if (!PHONE.test(phone)) return fail(res, 400, "INVALID_PHONE", "Invalid phone number")
    try {
      const { rows } = await pool.query(walletSql(false), [phone])
      const row = rows[0]
      if (row === undefined) return fail(res, 404, "CUSTOMER_NOT_FOUND", `No customer with phone ${phone}`)
      res.json(walletView(row.customer_id, Number(row.balance), row.credits, Date.now()))
    } catch (e) {
      console.error("bare: reading a wallet failed", e)
      fail(res, 500, "INTERNAL_ERROR", "An unexpected error occurred")
    }
  })

  app.post("/api/wallet/:phone/deposit", express.json({ limit: "64kb" }), async (req, res) => {
    if (!authorized(req, res)) return
    const phone = req.params.phone
    const { amount, reference, source } = (req.body ?? {}) as Record<string, unknown>
    const note = (req.body as Record<string, unknown> | undefined)?.note ?? null
    if (!PHONE.test(phone)) return fail(res, 400, "INVALID_PHONE", "Invalid phone number")
    if (typeof amount !== "number" || !Number.isSafeInteger(amount) || amount <= 0) {
      return fail(res, 400, "INVALID_AMOUNT", "amount must be a positive integer")
    }
    if (typeof reference !== "string" || reference.trim() === "" || reference.length > 200 ||
      typeof source !== "string" || !SOURCES.has(source) || (note !== null && (typeof note !== "string" || note.length > 500))) {
      return fail(res, 400, "VALIDATION_ERROR", "Invalid deposit")
    }
    const fingerprint = JSON.stringify([phone, amount, source, note])
    const client = await pool.connect()
    let open = false
    try {
      await client.query("BEGIN")
      open = true
      const found = await client.query(walletSql(true), [phone])
      const row = found.rows[0]
      if (row === undefined) {
        await client.query("ROLLBACK")
        open = false
        return fail(res, 404, "CUSTOMER_NOT_FOUND", `No customer with phone ${phone}`)
      }
      const customerId: string = row.customer_id
      const balanceAfter = Number(row.balance) + amount
      if (!Number.isSafeInteger(balanceAfter)) {
        await client.query("ROLLBACK")
        open = false
        return fail(res, 400, "INVALID_AMOUNT", "The balance would be too large")
      }
      const now = Date.now()
      const transactionId = newId("txn", now)
      const result = { transactionId, wallet: walletView(customerId, balanceAfter, row.credits, now) }
      try {
        await client.query(`INSERT INTO c360_wallet_operations (reference, transaction_id, customer_id, kind, fingerprint, result, created_at)
          VALUES ($1, $2, $3, 'deposit', $4, $5, $6)`, [reference, transactionId, customerId, fingerprint, JSON.stringify(result), now])
      } catch (e) {
        if ((e as { code?: string }).code !== "23505") throw e
        // the reference is recorded: replay its result, or refuse another payload
        await client.query("ROLLBACK")
        open = false
        const { rows } = await pool.query(`SELECT kind, fingerprint, result FROM c360_wallet_operations WHERE reference = $1`, [reference])
        const op = rows[0]
        if (op !== undefined && op.kind === "deposit" && op.fingerprint === fingerprint) return res.json(JSON.parse(op.result))
        return fail(res, 409, "IDEMPOTENCY_CONFLICT", `Reference ${JSON.stringify(reference)} was already used with a different payload`)
      }
      await client.query(`UPDATE c360_wallets SET balance = $1, version = version + 1, updated_at = $2 WHERE customer_id = $3`,
        [balanceAfter, now, customerId])
      await client.query(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
          credit_remaining_after, reference, source, note, created_at)
        VALUES ($1, $2, $3, 'deposit', $4, $5, NULL, NULL, $6, $7, $8, $9)`,
        [`le_${transactionId.slice(4)}_0`, transactionId, customerId, amount, balanceAfter, reference, source, note, now])
      await client.query(`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at)
        VALUES ($1, 'wallets', 'wallet.deposit', $2, $3, $4)`,
        [newId("evt", now), customerId, JSON.stringify({ transactionId, amount, source, reference, balanceAfter }), now])
      await client.query("COMMIT")
      open = false
      res.json(result)
    } catch (e) {
      if (open) await client.query("ROLLBACK").catch(() => undefined)
      const code = (e as { code?: string }).code
      if (code === "40001" || code === "40P01") return fail(res, 503, "SERVICE_UNAVAILABLE", "The database is busy; retry later")
      console.error("bare: deposit failed", e)
      fail(res, 500, "INTERNAL_ERROR", "An unexpected error occurred")
    } finally {
      client.release()
    }
  })

  app.use((_req: express.Request, res: express.Response) => fail(res, 404, "NOT_FOUND", "No such route"))
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = (err as { status?: number }).status ?? 500
    fail(res, status, status === 413 ? "PAYLOAD_TOO_LARGE" : status < 500 ? "VALIDATION_ERROR" : "INTERNAL_ERROR", "Bad request")
  })
  return app
}

// --- main -----------------------------------------------------------------------------------------

const start = async (databaseUrl: string): Promise<{ url: string; close: () => Promise<void> }> => {
  if (MODE === "library") {
    const app = await createApp({ database: { postgres: databaseUrl, maxConnections: POOL }, tokens: `${TOKEN}:manager` })
    return app.listen(PORT)
  }
  const pool = new pg.Pool({ connectionString: databaseUrl, max: POOL, application_name: "c360-bench-bare" })
  const server: Server = await new Promise((resolve, reject) => {
    const s = bareApp(pool).listen(PORT, "127.0.0.1")
    s.once("error", reject)
    s.once("listening", () => resolve(s))
  })
  const address = server.address()
  const url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : PORT}`
  return {
    url,
    close: async () => {
      const stopped = new Promise<void>((done) => server.close(() => done()))
      server.closeIdleConnections()
      await Promise.race([stopped, new Promise<void>((done) => setTimeout(done, 10_000).unref())])
      server.closeAllConnections()
      await pool.end()
    }
  }
}

const serve = async (): Promise<void> => {
  if ((MODE !== "library" && MODE !== "bare") || !DATABASE_URL) {
    console.error("http-server: set MODE=library|bare and DATABASE_URL (this file is started by bench/http.ts)")
    process.exit(2)
  }
  const { url, close } = await start(DATABASE_URL)
  console.log(`listening ${url}`)

  let stopping = false
  const stop = (why: string) => {
    if (stopping) return
    stopping = true
    const timer = setTimeout(() => {
      console.error(`http-server (${MODE}): not closed 15 s after ${why}, exiting`)
      process.exit(1)
    }, 15_000)
    timer.unref()
    close().then(() => process.exit(0), (e) => {
      console.error(`http-server (${MODE}): close failed`, e)
      process.exit(1)
    })
  }
  process.once("SIGTERM", () => stop("SIGTERM"))
  process.once("SIGINT", () => stop("SIGINT"))
  process.stdin.on("end", () => stop("end of stdin"))
  process.stdin.on("error", () => stop("stdin error"))
  process.stdin.resume()
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await serve()
