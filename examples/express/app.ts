/**
 * The Express host: assembles the library's layers and mounts the HTTP API under `/api` (and
 * `/health`) through `NodeHttpServer.makeHandler`. No rule lives here: routing, validation, roles
 * and errors are the API's; this file only chooses the database, wires the pieces together and
 * sets what belongs to the Node HTTP server itself:
 *
 * - **Limits** (defaults, each an option of {@link AppOptions.limits}): the request's headers must
 *   arrive within 10 s and the whole request, body included, within 30 s (else 408
 *   `REQUEST_TIMEOUT`, checked every second); headers at most 16 KiB (else 431
 *   `HEADERS_TOO_LARGE`); an idle kept-alive connection is closed after 5 s; at most 1,024
 *   connections at once (further ones are closed on arrival). Event streams are not cut by them:
 *   the timeouts bound receiving a request, not sending its answer.
 * - **Node-level refusals** (headers too large, too slow, not HTTP) are answered in the API's
 *   error envelope, `{ "error": { "code", "message" } }`, through `clientErrorReply`.
 * - **Account routes** (`account.ts`): the customer-facing `/api/account/*` (register, verify, login
 *   with a signed token, profile, linking), mounted before the API, with their own per-IP and
 *   per-account limits ({@link AppOptions.account}).
 * - **Shutdown** (`close()`): stops listening, answers `Connection: close` on every request in
 *   flight, closes idle kept-alive connections, answers a request that still arrives on a
 *   kept-alive connection 503 `SERVICE_UNAVAILABLE` (with `Connection: close`; it is not run), lets
 *   the requests in flight finish (at most `shutdownMs`, 10 s), ends the event streams, then
 *   closes the database.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import express from "express"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { Duplex } from "node:stream"
import { Customer360Http } from "../../src/http.js"
import { type Config, Customer360, Identity } from "../../src/index.js"
import { PgDatabase } from "../../src/pg.js"
import { SqliteDatabase } from "../../src/sqlite.js"
import { type AccountOptions, accountRoutes } from "./account.js"
import type { LoyaltySource } from "../../src/loyalty/index.js"

/** The Node HTTP server's limits; see the module's documentation for the defaults. */
export interface Limits {
  /** The request's headers must have arrived this long after it started (default 10,000 ms). */
  readonly headersTimeoutMs?: number
  /** The whole request, body included, must have arrived by then (default 30,000 ms). */
  readonly requestTimeoutMs?: number
  /** An idle kept-alive connection is closed after this long (default 5,000 ms). */
  readonly keepAliveTimeoutMs?: number
  /** The largest request head, request line and headers (default 16,384 bytes). */
  readonly maxHeaderBytes?: number
  /** Connections served at once; further ones are closed on arrival (default 1,024). */
  readonly maxConnections?: number
  /** How long `close()` lets requests in flight finish before it cuts them (default 10,000 ms). */
  readonly shutdownMs?: number
}

export interface AppOptions {
  /** An SQLite file, or a PostgreSQL URL. */
  readonly database: { readonly sqlite: string } | { readonly postgres: string; readonly maxConnections?: number }
  /** `"tok1:manager,tok2:staff,tok3:viewer"`. */
  readonly tokens: string
  readonly keepAliveMs?: number
  readonly eventPollMs?: number
  readonly limits?: Limits
  /** The shop's bank side (SePay key, QR account, shop phones): see `Customer360Http.transfersFromEnv`. */
  readonly transfers?: ReturnType<typeof Customer360Http.transfersFromEnv>
  /**
   * The identity module: its options (password hashing, limits; docs/identity.md) and its ports.
   * Without a `mailer` or `sms` adapter, messages are not sent and are logged as undelivered.
   */
  readonly identity?: {
    readonly options?: Config.IdentityOptions
    readonly mailer?: Layer.Layer<Identity.Mailer>
    readonly sms?: Layer.Layer<Identity.SmsSender>
  }
  /** The customer-facing `/api/account/*` routes: the token key and the rate limits (account.ts). */
  readonly account?: AccountOptions
  /**
   * Where `POST /api/jobs/loyalty-sync` reads the loyalty program's customers (docs/loyalty.md): the
   * CNV adapter (`Layer.succeed(LoyaltySource, cnv)`) or a host's own source. Without it that
   * endpoint answers 503 `SERVICE_UNAVAILABLE`.
   */
  readonly loyalty?: Layer.Layer<LoyaltySource>
}

export interface App {
  readonly app: express.Express
  /**
   * Listens with the host's limits. Its `close` stops taking requests (new connections are refused,
   * requests still arriving on kept-alive connections get 503), lets the ones in flight finish and
   * get their answer (`Connection: close`), ends the event streams and closes the database.
   */
  readonly listen: (port: number, host?: string) => Promise<{ readonly server: Server; readonly url: string; readonly close: () => Promise<void> }>
  /** Closes the database (after `listen`'s `close`, or instead of it when never listening). */
  readonly dispose: () => Promise<void>
}

const SHUTTING_DOWN = JSON.stringify({
  error: { code: "SERVICE_UNAVAILABLE", message: "The server is shutting down; retry the request" }
})

/**
 * Builds the library on the chosen database (migrations included) and the Express app serving its
 * API; `listen` starts the HTTP server with the host's limits. Throws the `ValidationError` of bad
 * tokens, or the failure of opening the database (after releasing what it had built).
 */
export const createApp = async (options: AppOptions): Promise<App> => {
  const tokens = Customer360Http.parseTokens(options.tokens)
  if (Either.isLeft(tokens)) throw tokens.left
  const storage = "postgres" in options.database
    ? PgDatabase.layer({ url: options.database.postgres, maxConnections: options.database.maxConnections })
    : SqliteDatabase.layer({ filename: options.database.sqlite })
  const library = Customer360.layer(storage, { transfers: options.transfers, identity: options.identity?.options }).pipe(
    Layer.provide(Layer.mergeAll(options.identity?.mailer ?? Layer.empty, options.identity?.sms ?? Layer.empty, options.loyalty ?? Layer.empty))
  )
  const api = Customer360Http.layer({
    tokens: tokens.right,
    keepAlive: options.keepAliveMs,
    eventPollInterval: options.eventPollMs
  }).pipe(Layer.provideMerge(library)) // the library's services stay in the runtime, for the account routes
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(api, HttpApiBuilder.Router.Live, HttpApiBuilder.Middleware.layer, NodeHttpServer.layerContext)
  )
  let handler: (req: IncomingMessage, res: ServerResponse) => void
  let account: express.Router
  try {
    handler = await runtime.runPromise(Effect.flatMap(HttpApiBuilder.httpApp, (app) => NodeHttpServer.makeHandler(app)))
    const identity = await runtime.runPromise(Identity.Identity)
    account = accountRoutes(identity, (effect) => runtime.runPromiseExit(effect), options.account)
  } catch (e) {
    await runtime.dispose()
    throw e
  }

  const limits = {
    headersTimeoutMs: options.limits?.headersTimeoutMs ?? 10_000,
    requestTimeoutMs: options.limits?.requestTimeoutMs ?? 30_000,
    keepAliveTimeoutMs: options.limits?.keepAliveTimeoutMs ?? 5_000,
    maxHeaderBytes: options.limits?.maxHeaderBytes ?? 16_384,
    maxConnections: options.limits?.maxConnections ?? 1_024,
    shutdownMs: options.limits?.shutdownMs ?? 10_000
  }

  const app = express()
  app.disable("x-powered-by")
  // Requests in flight, so that shutdown can wait for them (event streams excepted: they never end).
  const inFlight = new Set<ServerResponse>()
  let closing = false
  let drained: (() => void) | undefined
  app.use((req, res, next) => {
    if (closing) {
      // arrived on a kept-alive connection after shutdown began: not run, the client retries
      res.writeHead(503, { "content-type": "application/json", connection: "close", "retry-after": "1" })
      res.end(SHUTTING_DOWN)
      return
    }
    if (req.path === "/api/events") return next()
    inFlight.add(res)
    res.on("close", () => {
      inFlight.delete(res)
      if (inFlight.size === 0) drained?.()
    })
    next()
  })
  app.get("/health", (req, res) => handler(req, res))
  app.use("/api/account", account)
  app.use("/api", (req, res) => {
    req.url = req.originalUrl // the API's paths include /api
    handler(req, res)
  })
  app.use((_req, res) => {
    res.status(404).json({ error: { code: "NOT_FOUND", message: "No such route" } })
  })

  const dispose = () => runtime.dispose()
  const listen = (port: number, host = "127.0.0.1") =>
    new Promise<{ server: Server; url: string; close: () => Promise<void> }>((resolve, reject) => {
      const server = createServer({
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        maxHeaderSize: limits.maxHeaderBytes,
        // how often the two timeouts are checked (Node's default is every 30 s)
        connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4)))
      }, app)
      server.maxConnections = limits.maxConnections
      // Node's own refusals, in the API's envelope; never inside an answer already under way
      server.on("clientError", (error: NodeJS.ErrnoException, socket: Duplex) => {
        const answering = (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage
        if (error.code === "ECONNRESET" || error.code === "EPIPE" || !socket.writable || answering?.headersSent === true) {
          socket.destroy()
          return
        }
        socket.end(Customer360Http.clientErrorReply(error.code), () => socket.destroy())
        setTimeout(() => socket.destroy(), 1_000).unref()
      })
      server.once("error", reject)
      server.listen(port, host, () => {
        const address = server.address()
        const url = `http://${host}:${typeof address === "object" && address !== null ? address.port : port}`
        let shutdown: Promise<void> | undefined
        const close = () =>
          shutdown ??= (async () => {
            closing = true
            const stopped = new Promise<void>((done) => server.close(() => done())) // also closes idle connections
            // the answers still to come close their connections
            for (const res of inFlight) if (!res.headersSent) res.setHeader("connection", "close")
            server.closeIdleConnections()
            if (inFlight.size > 0) {
              await Promise.race([
                new Promise<void>((done) => (drained = done)),
                new Promise<void>((done) => setTimeout(done, limits.shutdownMs).unref())
              ])
            }
            server.closeAllConnections() // ends the event streams and idle kept-alive connections
            await stopped
            await dispose()
          })()
        resolve({ server, url, close })
      })
    })
  return { app, listen, dispose }
}
