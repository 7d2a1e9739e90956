/**
 * One HTTP server of the `transfers` benchmark (bench/transfers.ts), in its own process so that the
 * load generator does not share its event loop. Started by bench/transfers.ts as
 * `node --import tsx bench/support/transfers-server.ts` (it serves only when it is the main module)
 * with:
 *
 * - `MODE=library`: the library's HTTP API from the built package (`dist/`: `Customer360.layer`
 *   over `PgDatabase.layer` with `transfers: { sepayApiKey }`, `Customer360Http.layer`, served
 *   through `NodeHttpServer.makeHandler` under an Express app's `/api`, as examples/express/app.ts
 *   builds it — that host takes no SePay key, so the same assembly is made here), with a pool of
 *   `C360_BENCH_POOL` connections.
 * - `MODE=bare`: an Express 5 route `POST /api/webhooks/sepay` with its own `pg` Pool of the same
 *   size doing the same by hand, the way an application developer would write it (`express.json()`,
 *   unnamed parameterised statements, one `await` per statement): the `Authorization: Apikey` check
 *   (constant-time), the body's fields checked, the content matched by the library's matcher (its
 *   sources: `scan` + `decide`, a pure function), then one transaction — `BEGIN`; the transfer row
 *   (`INSERT … ON CONFLICT (provider, provider_id) DO NOTHING`, the customer found by phone in the
 *   same statement; nothing inserted: a repeated delivery, `COMMIT` and answer); the customer and
 *   wallet by phone (`FOR UPDATE` of the wallet); the wallet operation row (reference
 *   `sepay:<id>`, fingerprint, result); the wallet's balance and version; the ledger entry; the
 *   outbox events (`wallet.deposit`, `transfer.received`, `transfer.linked`, one statement); the
 *   `transfer.linked` activity; `COMMIT` — and `{"success":true}`. The same rows as the library
 *   writes for a transfer matched by phone (bench/transfers.ts checks it on one delivery to both).
 *   It handles what the benchmark sends (matched by one phone of an existing customer, and
 *   repeats); anything else is answered 422 and counts as an error.
 * - `DATABASE_URL`, `PORT` (0: any free port), `C360_BENCH_POOL` (default 32), `C360_BENCH_SEPAY_KEY`.
 *
 * Prints `listening <url>` on stdout once it accepts connections. Stops (draining running requests,
 * closing its pool) on SIGTERM or SIGINT, and when its stdin ends (the benchmark died); then prints
 * `stats {"requests":…,"queries":…}`: the requests it served and the queries node-postgres sent for
 * them (every `Client.query`, counted the same way in both modes; a counter, nothing timed).
 */
import { timingSafeEqual } from "node:crypto"
import { existsSync } from "node:fs"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { fileURLToPath, pathToFileURL } from "node:url"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import express from "express"
import pg from "pg"
import type * as HttpEntry from "../../src/http.js"
import type * as MainEntry from "../../src/index.js"
import type * as PgEntry from "../../src/pg.js"
import { decide, explain, type MatcherConfig, scan } from "../../src/transfers/Matcher.js"
import { newId } from "./ids.js"

const env = process.env
const MODE = env.MODE
const DATABASE_URL = env.DATABASE_URL
const PORT = Number(env.PORT ?? 0)
const POOL = Number(env.C360_BENCH_POOL ?? 32)
const SEPAY_KEY = env.C360_BENCH_SEPAY_KEY ?? "bench-sepay-key-0001"
const MANAGER_TOKEN = "bench-manager-token-0001"
const TIME_ZONE_OFFSET = "+07:00" // Asia/Ho_Chi_Minh, no daylight saving time

let requests = 0
let queries = 0
const originalQuery = pg.Client.prototype.query as unknown as (...args: Array<unknown>) => unknown
;(pg.Client.prototype as unknown as { query: (...args: Array<unknown>) => unknown }).query = function(this: unknown, ...args: Array<unknown>) {
  queries++
  return originalQuery.apply(this, args)
}

const listenOn = (handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> =>
  new Promise((resolve, reject) => {
    // the limits of examples/express/app.ts
    const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000, keepAliveTimeout: 5_000, maxHeaderSize: 16_384 },
      (req, res) => {
        requests++
        handler(req, res)
      })
    server.once("error", reject)
    server.listen(PORT, "127.0.0.1", () => {
      const address = server.address()
      resolve({ server, url: `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : PORT}` })
    })
  })

const closeServer = async (server: Server): Promise<void> => {
  const stopped = new Promise<void>((done) => server.close(() => done()))
  server.closeIdleConnections()
  await Promise.race([stopped, new Promise<void>((done) => setTimeout(done, 10_000).unref())])
  server.closeAllConnections()
}

// --- library --------------------------------------------------------------------------------------

const built = async <A>(entry: string): Promise<A> => {
  const url = new URL(`../../dist/${entry}.js`, import.meta.url)
  if (!existsSync(fileURLToPath(url))) throw new Error(`dist/${entry}.js is missing: run npm run build (npm run bench does)`)
  return (await import(url.href)) as A
}

const startLibrary = async (databaseUrl: string) => {
  const { Customer360 } = await built<typeof MainEntry>("index")
  const { PgDatabase } = await built<typeof PgEntry>("pg")
  const { Customer360Http } = await built<typeof HttpEntry>("http")
  const tokens = Customer360Http.parseTokens(`${MANAGER_TOKEN}:manager`)
  if (Either.isLeft(tokens)) throw tokens.left
  const storage = PgDatabase.layer({ url: databaseUrl, maxConnections: POOL })
  const api = Customer360Http.layer({ tokens: tokens.right }).pipe(
    Layer.provide(Customer360.layer(storage, { transfers: { sepayApiKey: SEPAY_KEY } }))
  )
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(api, HttpApiBuilder.Router.Live, HttpApiBuilder.Middleware.layer, NodeHttpServer.layerContext)
  )
  const handler = await runtime.runPromise(Effect.flatMap(HttpApiBuilder.httpApp, (app) => NodeHttpServer.makeHandler(app)))
  const app = express()
  app.disable("x-powered-by")
  app.use("/api", (req, res) => {
    req.url = req.originalUrl // the API's paths include /api
    handler(req, res)
  })
  app.use((_req, res) => {
    res.status(404).json({ error: { code: "NOT_FOUND", message: "No such route" } })
  })
  const { server, url } = await listenOn(app)
  return {
    url,
    close: async () => {
      await closeServer(server)
      await runtime.dispose()
    }
  }
}

// --- bare -----------------------------------------------------------------------------------------

const MATCHER: MatcherConfig = { shopPhones: new Set(), shopAccounts: new Set() }
const APIKEY = /^Apikey\s+(\S+)\s*$/i
const LOCAL_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/
const ID = /^[A-Za-z0-9_-]{1,64}$/

const keyMatches = (given: string | undefined): boolean => {
  const a = Buffer.from(given ?? "")
  const b = Buffer.from(SEPAY_KEY)
  // compared whatever was given, so that a missing key costs as long as a wrong one
  const same = timingSafeEqual(a.length === b.length ? a : b, b)
  return given !== undefined && a.length === b.length && same
}

const fail = (res: express.Response, status: number, code: string, message: string) =>
  res.status(status).json({ error: { code, message } })

const text = (v: unknown, max: number): v is string => typeof v === "string" && v.length <= max
const optionalText = (v: unknown, max: number): boolean => v === undefined || v === null || text(v, max)

const bareApp = (pool: pg.Pool): express.Express => {
  const app = express()
  app.disable("x-powered-by")
  app.post("/api/webhooks/sepay", express.json({ limit: "64kb" }), async (req, res) => {
    const authorization = req.headers.authorization
    if (!keyMatches(typeof authorization === "string" ? APIKEY.exec(authorization)?.[1] : undefined)) {
      return fail(res, 401, "UNAUTHORIZED", "A valid API key is required")
    }
    const b = (req.body ?? {}) as Record<string, unknown>
    const id = b.id
    const local = typeof b.transactionDate === "string" ? LOCAL_TIME.exec(b.transactionDate) : null
    if (
      !((typeof id === "number" && Number.isSafeInteger(id) && id > 0) || (typeof id === "string" && ID.test(id))) ||
      !text(b.gateway, 100) || local === null || !text(b.accountNumber, 64) || !text(b.content, 1000) ||
      (b.transferType !== "in" && b.transferType !== "out") ||
      typeof b.transferAmount !== "number" || !Number.isSafeInteger(b.transferAmount) || b.transferAmount <= 0 ||
      !optionalText(b.code, 100) || !optionalText(b.referenceCode, 100) || !optionalText(b.subAccount, 64) ||
      !(b.accumulated === undefined || b.accumulated === null || Number.isSafeInteger(b.accumulated))
    ) {
      return fail(res, 400, "VALIDATION_ERROR", "Invalid SePay webhook")
    }
    const transactionDate = Date.parse(`${local[1]}-${local[2]}-${local[3]}T${local[4]}:${local[5]}:${local[6] ?? "00"}${TIME_ZONE_OFFSET}`)
    if (Number.isNaN(transactionDate)) return fail(res, 400, "VALIDATION_ERROR", "Invalid transactionDate")
    const decision = b.transferType === "in" ? decide([], scan(b.content as string, MATCHER).phones) : undefined
    if (decision === undefined || decision.by !== "phone") {
      return fail(res, 422, "NOT_HANDLED", "The bare route handles transfers matched by one phone only")
    }
    const phone = decision.phone
    const providerId = String(id)
    const amount = b.transferAmount
    const reference = `sepay:${providerId}`
    const source = "bank_transfer"
    const note = `sepay ${b.gateway as string}`.slice(0, 500)
    const now = Date.now()
    const transferId = newId("trf", now)
    const transactionId = newId("txn", now)
    const match = { by: "phone", reason: "phone", candidates: [], explanation: explain(decision) }
    const client = await pool.connect()
    let open = false
    try {
      await client.query("BEGIN")
      open = true
      const inserted = await client.query(`INSERT INTO c360_bank_transfers (id, provider, provider_id, gateway, account_number,
          sub_account, provider_code, content, transfer_type, amount, accumulated, reference_code, transaction_date, received_at,
          status, customer_id, match_by, match_reason, candidates, explanation, deposit_transaction_id, linked_at, linked_by, raw, version)
        SELECT $1, 'sepay', $2, $3, $4, $5, $6, $7, 'in', $8, $9, $10, $11, $12, 'matched', c.id, 'phone', 'phone', '[]', $13, $14,
          $12, 'system:sepay', $15, 0
        FROM c360_customers c WHERE c.phone = $16
        ON CONFLICT (provider, provider_id) DO NOTHING
        RETURNING customer_id`,
        [transferId, providerId, b.gateway, b.accountNumber, b.subAccount ?? null, b.code ?? null, b.content, amount,
          b.accumulated ?? null, b.referenceCode ?? null, transactionDate, now, match.explanation, transactionId, JSON.stringify(b), phone])
      if (inserted.rowCount === 0) {
        // delivered before (or no such customer, which the benchmark never sends): nothing to do
        await client.query("COMMIT")
        open = false
        return res.json({ success: true })
      }
      const found = await client.query(`SELECT c.id AS customer_id, w.balance FROM c360_customers c
        JOIN c360_wallets w ON w.customer_id = c.id WHERE c.phone = $1 FOR UPDATE OF w`, [phone])
      const row = found.rows[0] as { customer_id: string; balance: string } | undefined
      if (row === undefined) throw new Error(`no wallet for ${phone}`)
      const customerId = row.customer_id
      const balanceAfter = Number(row.balance) + amount
      const wallet = { customerId, balance: balanceAfter, virtualBalance: 0, available: balanceAfter, credits: [] }
      await client.query(`INSERT INTO c360_wallet_operations (reference, transaction_id, customer_id, kind, fingerprint, result, created_at)
        VALUES ($1, $2, $3, 'deposit', $4, $5, $6)`,
        [reference, transactionId, customerId, JSON.stringify([phone, amount, source, note]), JSON.stringify({ transactionId, wallet }), now])
      await client.query(`UPDATE c360_wallets SET balance = $1, version = version + 1, updated_at = $2 WHERE customer_id = $3`,
        [balanceAfter, now, customerId])
      await client.query(`INSERT INTO c360_ledger_entries (id, transaction_id, customer_id, kind, amount, balance_after, credit_id,
          credit_remaining_after, reference, source, note, created_at)
        VALUES ($1, $2, $3, 'deposit', $4, $5, NULL, NULL, $6, $7, $8, $9)`,
        [`le_${transactionId.slice(4)}_0`, transactionId, customerId, amount, balanceAfter, reference, source, note, now])
      const transfer = {
        id: transferId, provider: "sepay", providerId, gateway: b.gateway, accountNumber: b.accountNumber, transferType: "in", amount,
        content: b.content, referenceCode: b.referenceCode ?? null, transactionDate: new Date(transactionDate).toISOString(),
        status: "matched", customerId, match, depositTransactionId: transactionId
      }
      await client.query(`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at) VALUES
          ($1, 'wallets', 'wallet.deposit', $4, $5, $8),
          ($2, 'transfers', 'transfer.received', $4, $6, $8),
          ($3, 'transfers', 'transfer.linked', $4, $7, $8)`,
        [newId("evt", now), newId("evt", now), newId("evt", now), customerId,
          JSON.stringify({ transactionId, amount, source, reference, balanceAfter }),
          JSON.stringify({ transfer }), JSON.stringify({ transfer, depositTransactionId: transactionId }), now])
      await client.query(`INSERT INTO c360_activities (id, customer_id, actor, kind, subject_type, subject_id, summary, data, at)
        VALUES ($1, $2, 'system:sepay', 'transfer.linked', 'transfer', $3, $4, $5, $6)`,
        [newId("act", now), customerId, transferId,
          `linked the bank transfer ${providerId} of ${amount} đồng and deposited it — ${match.explanation}`,
          JSON.stringify({ providerId, amount, by: "phone" }), now])
      await client.query("COMMIT")
      open = false
      res.json({ success: true })
    } catch (e) {
      if (open) await client.query("ROLLBACK").catch(() => undefined)
      console.error("bare: webhook failed", e)
      fail(res, 500, "INTERNAL_ERROR", "An unexpected error occurred")
    } finally {
      client.release()
    }
  })
  app.use((_req: express.Request, res: express.Response) => fail(res, 404, "NOT_FOUND", "No such route"))
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const status = (err as { status?: number }).status ?? 500
    fail(res, status, status < 500 ? "VALIDATION_ERROR" : "INTERNAL_ERROR", "Bad request")
  })
  return app
}

const startBare = async (databaseUrl: string) => {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: POOL, application_name: "c360-bench-bare" })
  pool.on("error", () => {})
  await pool.query("SELECT 1")
  const { server, url } = await listenOn(bareApp(pool))
  return {
    url,
    close: async () => {
      await closeServer(server)
      await pool.end()
    }
  }
}

// --- main -----------------------------------------------------------------------------------------

const serve = async (): Promise<void> => {
  if ((MODE !== "library" && MODE !== "bare") || !DATABASE_URL) {
    console.error("transfers-server: set MODE=library|bare and DATABASE_URL (this file is started by bench/transfers.ts)")
    process.exit(2)
  }
  const { url, close } = MODE === "library" ? await startLibrary(DATABASE_URL) : await startBare(DATABASE_URL)
  console.log(`listening ${url}`)

  let stopping = false
  const stop = (why: string) => {
    if (stopping) return
    stopping = true
    const timer = setTimeout(() => {
      console.error(`transfers-server (${MODE}): not closed 15 s after ${why}, exiting`)
      process.exit(1)
    }, 15_000)
    timer.unref()
    close().then(() => {
      console.log(`stats ${JSON.stringify({ requests, queries })}`)
      process.exit(0)
    }, (e) => {
      console.error(`transfers-server (${MODE}): close failed`, e)
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
