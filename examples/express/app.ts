/**
 * The Express host: assembles the library's layers and mounts the HTTP API under `/api` (and
 * `/health`) through `NodeHttpServer.makeHandler`. No rule lives here: routing, validation, roles
 * and errors are the API's; this file only chooses the database and wires the pieces together.
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import express from "express"
import type { IncomingMessage, Server, ServerResponse } from "node:http"
import { Customer360Http } from "../../src/http.js"
import { Customer360 } from "../../src/index.js"
import { PgDatabase } from "../../src/pg.js"
import { SqliteDatabase } from "../../src/sqlite.js"

export interface AppOptions {
  /** An SQLite file, or a PostgreSQL URL. */
  readonly database: { readonly sqlite: string } | { readonly postgres: string; readonly maxConnections?: number }
  /** `"tok1:manager,tok2:staff,tok3:viewer"`. */
  readonly tokens: string
  readonly keepAliveMs?: number
  readonly eventPollMs?: number
}

export interface App {
  readonly app: express.Express
  /** Stops accepting requests, lets running ones finish (SSE streams are ended), closes the database. */
  readonly listen: (port: number, host?: string) => Promise<{ readonly server: Server; readonly url: string; readonly close: () => Promise<void> }>
  /** Closes the database (after `listen`'s `close`, or instead of it when never listening). */
  readonly dispose: () => Promise<void>
}

export const createApp = async (options: AppOptions): Promise<App> => {
  const tokens = Customer360Http.parseTokens(options.tokens)
  if (Either.isLeft(tokens)) throw tokens.left
  const storage = "postgres" in options.database
    ? PgDatabase.layer({ url: options.database.postgres, maxConnections: options.database.maxConnections })
    : SqliteDatabase.layer({ filename: options.database.sqlite })
  const api = Customer360Http.layer({
    tokens: tokens.right,
    keepAlive: options.keepAliveMs,
    eventPollInterval: options.eventPollMs
  }).pipe(Layer.provide(Customer360.layer(storage)))
  const runtime = ManagedRuntime.make(
    Layer.mergeAll(api, HttpApiBuilder.Router.Live, HttpApiBuilder.Middleware.layer, NodeHttpServer.layerContext)
  )
  let handler: (req: IncomingMessage, res: ServerResponse) => void
  try {
    handler = await runtime.runPromise(Effect.flatMap(HttpApiBuilder.httpApp, (app) => NodeHttpServer.makeHandler(app)))
  } catch (e) {
    await runtime.dispose()
    throw e
  }

  const app = express()
  app.disable("x-powered-by")
  // Requests in flight, so that shutdown can wait for them (event streams excepted: they never end).
  let inFlight = 0
  let drained: (() => void) | undefined
  app.use((req, res, next) => {
    if (req.path === "/api/events") return next()
    inFlight += 1
    res.on("close", () => {
      inFlight -= 1
      if (inFlight === 0) drained?.()
    })
    next()
  })
  app.get("/health", (req, res) => handler(req, res))
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
      const server = app.listen(port, host)
      server.once("error", reject)
      server.once("listening", () => {
        const address = server.address()
        const url = `http://${host}:${typeof address === "object" && address !== null ? address.port : port}`
        let closing: Promise<void> | undefined
        const close = () =>
          closing ??= (async () => {
            const stopped = new Promise<void>((done) => server.close(() => done()))
            server.closeIdleConnections()
            if (inFlight > 0) {
              await Promise.race([
                new Promise<void>((done) => (drained = done)),
                new Promise<void>((done) => setTimeout(done, 10_000).unref())
              ])
            }
            server.closeAllConnections() // ends the event streams
            await stopped
            await dispose()
          })()
        resolve({ server, url, close })
      })
    })
  return { app, listen, dispose }
}
