/**
 * The implementation of the HTTP API ({@link Api}) over the library's services. Hosts serve it:
 *
 * ```ts
 * const api = Customer360Http.layer({ tokens: Customer360Http.parseTokens(process.env.C360_TOKENS) })
 * // Node / Express:  Customer360Http.nodeHandler  (NodeHttpServer.makeHandler)
 * // Worker:          HttpApiBuilder.toWebHandler(...)
 * ```
 *
 * Every handler only decodes, checks the caller's role, calls a service and encodes: the rules are
 * the services'. Failures become `{ "error": { "code", "message", "details"? } }` here, in one
 * place, for every route, including the ones no handler sees (unknown route, unreadable JSON, a
 * body over the limit, a body that is not JSON, not UTF-8 or nested more than 64 levels deep);
 * every `INTERNAL_ERROR` (a defect, a `StorageError` with reason `unexpected` or `corrupt`) is
 * logged with its cause and answered with a bare message. A Node host answers the requests its
 * server refuses itself (headers too large, too slow, not HTTP) with {@link clientErrorReply}.
 *
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { Customers } from "../customers/Customers.js"
import type { Channel, StoredEvent } from "../kernel/Events.js"
import * as Registry from "../modules.js"
import { apiError, authentication, domain, envelope, type HttpOptions } from "../platform/http/HttpKit.js"
import * as LiveEvents from "../platform/LiveEvents.js"
import { Outbox } from "../platform/Outbox.js"
import { Api } from "./Api.js"

export { clientErrorReply, type HttpOptions, parseTokens } from "../platform/http/HttpKit.js"

/**
 * The shop's bank side from a host's environment (the library's `transfers` options):
 * `C360_SEPAY_API_KEY` (the SePay webhook's key), `C360_BANK_BIN` and `C360_BANK_ACCOUNT` (the
 * account customers' QR codes pay into), `C360_SHOP_PHONES` and `C360_SHOP_ACCOUNTS`
 * (comma-separated; a transfer's content never matches them). Unset or empty variables are left out;
 * the values are checked when the library is built (`ValidationError`).
 *
 * @since 0.2.0
 */
export const transfersFromEnv = (env: Readonly<Record<string, string | undefined>>): {
  readonly sepayApiKey?: string
  readonly bankBin?: string
  readonly bankAccount?: string
  readonly shopPhones?: ReadonlyArray<string>
  readonly shopAccounts?: ReadonlyArray<string>
} => {
  const text = (name: string) => (env[name]?.trim() ? env[name]!.trim() : undefined)
  const list = (name: string) => text(name)?.split(",").map((s) => s.trim()).filter((s) => s !== "")
  const entries = {
    sepayApiKey: text("C360_SEPAY_API_KEY"),
    bankBin: text("C360_BANK_BIN"),
    bankAccount: text("C360_BANK_ACCOUNT"),
    shopPhones: list("C360_SHOP_PHONES"),
    shopAccounts: list("C360_SHOP_ACCOUNTS")
  }
  return Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined))
}

const viewGroup = HttpApiBuilder.group(Api, "view", (handlers) =>
  Effect.gen(function*() {
    const customers = yield* Customers
    return handlers.handle("view", ({ path }) => domain(customers.view360(path.phone)))
  }))

const sse = (event: StoredEvent): string =>
  `event: ${event.type}\nid: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`

const operationsGroup = (keepAlive: Duration.Duration) =>
  HttpApiBuilder.group(Api, "operations", (handlers) =>
    Effect.gen(function*() {
      const live = yield* LiveEvents.LiveEvents
      return handlers
        .handle("events", ({ request, urlParams }) =>
          Effect.gen(function*() {
            const requested = (urlParams.channels ?? "customers,wallets").split(",").map((c) => c.trim()).filter((c) => c !== "")
            const unknown = requested.find((c) => !(Registry.channels as ReadonlyArray<string>).includes(c))
            if (unknown !== undefined || requested.length === 0) {
              return yield* Effect.fail(
                apiError("VALIDATION_ERROR", `channels must be a comma-separated list of ${Registry.channels.join(", ")}`)
              )
            }
            const lastEventId = request.headers["last-event-id"]?.trim() || null
            const { events, resumed } = yield* domain(live.open(requested as ReadonlyArray<Channel>, lastEventId))
            const greeting = lastEventId !== null && !resumed
              ? `retry: 2000\n: Last-Event-ID not found in the outbox; starting from now\n\n`
              : `retry: 2000\n: connected\n\n`
            const body = Stream.make(greeting).pipe(
              Stream.concat(Stream.map(events, sse)),
              Stream.merge(Stream.fromSchedule(Schedule.spaced(keepAlive)).pipe(Stream.as(": keep-alive\n\n"))),
              Stream.catchAllCause((cause) =>
                Stream.fromEffect(Effect.logWarning("customer360 http: event stream ended", cause)).pipe(Stream.drain)
              ),
              Stream.encodeText
            )
            return HttpServerResponse.stream(body, {
              contentType: "text/event-stream; charset=utf-8",
              headers: { "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" }
            })
          }))
    }))

const systemGroup = HttpApiBuilder.group(Api, "system", (handlers) =>
  Effect.gen(function*() {
    const outbox = yield* Outbox
    const spec = OpenApi.fromApi(Api)
    return handlers
      .handle("health", () =>
        outbox.end.pipe(
          Effect.as({ status: "ok" as const, database: "ok" as const }),
          Effect.catchAll(() => Effect.fail(apiError("SERVICE_UNAVAILABLE", "The database is unavailable")))
        ))
      .handle("openapi", () => Effect.succeed(spec))
  }))

/**
 * The API, ready to serve: `HttpApi.Api` for `HttpApiBuilder.httpApp` / `toWebHandler`, over the
 * library's services (`Customer360.layer`).
 *
 * @since 0.1.0
 */
export const layer = (options: HttpOptions) => {
  const keepAlive = Duration.decode(options.keepAlive ?? Duration.seconds(15))
  return HttpApiBuilder.api(Api).pipe(
    Layer.provide(Layer.mergeAll(Registry.handlers, viewGroup, operationsGroup(keepAlive), systemGroup)),
    Layer.provide(Layer.mergeAll(authentication(options.tokens), LiveEvents.layer({ pollInterval: options.eventPollInterval, sharing: options.eventSharing }))),
    Layer.merge(HttpApiBuilder.middleware(envelope(options.maxBodyBytes ?? 65_536, options.maxImportBytes)))
  )
}
