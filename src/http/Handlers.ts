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
 * body over the limit, a body that is not JSON); a defect is logged and answered with a bare
 * `INTERNAL_ERROR`.
 *
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { ValidationError } from "../kernel/Errors.js"
import type { Channel, StoredEvent } from "../kernel/Events.js"
import { Outbox } from "../platform/Outbox.js"
import { Customers } from "../customers/Customers.js"
import { Wallets } from "../wallets/Wallets.js"
import { Api, type ApiError, Authentication, type ErrorCode, errorStatus, Principal, type Role } from "./Api.js"
import * as LiveEvents from "../platform/LiveEvents.js"

/**
 * Options of {@link layer}.
 *
 * - `tokens`: bearer token → role (see {@link parseTokens}). With no tokens every authenticated
 *   call is refused.
 * - `maxBodyBytes`: the largest request body accepted (default 65,536); larger ones get 413.
 * - `keepAlive`: the interval of the SSE keep-alive comments (default 15 s).
 * - `eventPollInterval`: how often the SSE tail reads the outbox while a client listens (default 100 ms).
 * - `eventSharing`: `"process"` (default: one outbox reader per process for all SSE clients) or
 *   `"stream"` (each SSE connection reads the outbox itself; for Cloudflare Workers, which cancel a
 *   request that waits on another request's work).
 *
 * @since 0.1.0
 */
export interface HttpOptions {
  readonly tokens: ReadonlyMap<string, Role>
  readonly maxBodyBytes?: number | undefined
  readonly keepAlive?: Duration.DurationInput | undefined
  readonly eventPollInterval?: Duration.DurationInput | undefined
  readonly eventSharing?: "process" | "stream" | undefined
}

const ROLES: ReadonlyArray<Role> = ["viewer", "staff", "manager"]

/**
 * Parses `"tok1:manager,tok2:staff,tok3:viewer"` (the `C360_TOKENS` format). Fails with a
 * `ValidationError` naming the first bad entry: a token must be at least 8 characters of
 * `A-Z a-z 0-9 . _ ~ + / = -`, a role one of `viewer`, `staff`, `manager`, and a token appear once.
 *
 * @since 0.1.0
 */
export const parseTokens = (spec: string | undefined): Either.Either<ReadonlyMap<string, Role>, ValidationError> => {
  const tokens = new Map<string, Role>()
  for (const [i, raw] of (spec ?? "").split(",").entries()) {
    const entry = raw.trim()
    if (entry === "") continue
    const colon = entry.lastIndexOf(":")
    const token = colon < 0 ? entry : entry.slice(0, colon)
    const role = colon < 0 ? "" : entry.slice(colon + 1)
    if (!/^[A-Za-z0-9._~+/=-]{8,}$/.test(token)) {
      return Either.left(ValidationError.single(`tokens.${i}`, "a token must be at least 8 characters of A-Z a-z 0-9 . _ ~ + / = -"))
    }
    if (!(ROLES as ReadonlyArray<string>).includes(role)) {
      return Either.left(ValidationError.single(`tokens.${i}`, "the role must be viewer, staff or manager"))
    }
    if (tokens.has(token)) return Either.left(ValidationError.single(`tokens.${i}`, "the token appears twice"))
    tokens.set(token, role as Role)
  }
  return Either.right(tokens)
}

// ---------------------------------------------------------------------------------------------
// Errors

const apiError = <C extends ErrorCode>(code: C, message: string, details?: unknown) => ({
  error: details === undefined ? { code, message } : { code, message, details }
}) as Extract<ApiError, { readonly error: { readonly code: C } }>

const isApiError = (u: unknown): u is ApiError =>
  typeof u === "object" && u !== null && "error" in u && typeof u.error === "object" && u.error !== null &&
  "code" in u.error && typeof u.error.code === "string" && u.error.code in errorStatus

/** The API error for a failure of a service. */
const fromDomain = (e: { readonly _tag: string; readonly message: string } & Record<string, unknown>): ApiError => {
  switch (e._tag) {
    case "InvalidPhone":
      return apiError("INVALID_PHONE", e.message, { reason: e.reason })
    case "InvalidAmount":
      return apiError("INVALID_AMOUNT", e.message, { reason: e.reason })
    case "ValidationError":
      return apiError("VALIDATION_ERROR", e.message, { issues: e.issues })
    case "CustomerNotFound":
      return apiError("CUSTOMER_NOT_FOUND", e.message)
    case "CustomerExists":
      return apiError("CUSTOMER_EXISTS", e.message, { field: e.field })
    case "IdempotencyConflict":
      return apiError("IDEMPOTENCY_CONFLICT", e.message, { reference: e.reference })
    case "InsufficientFunds":
      return apiError("INSUFFICIENT_FUNDS", e.message, { available: e.available, requested: e.requested })
    case "StorageError":
      return e.reason === "unavailable" || e.reason === "contention"
        ? apiError("SERVICE_UNAVAILABLE", "The database is unavailable or busy; retry later")
        : apiError("INTERNAL_ERROR", "An unexpected error occurred")
    default:
      return apiError("INTERNAL_ERROR", "An unexpected error occurred")
  }
}

const domain = <A, E extends { readonly _tag: string; readonly message: string }, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, ApiError, R> =>
  Effect.mapError(effect, (e) => fromDomain(e as unknown as Parameters<typeof fromDomain>[0]))

const respondError = (error: ApiError): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(error, { status: errorStatus[error.error.code] })

/** The response for a failure anywhere in the app (`None`: an interruption, left as it is). */
const responseFor = (cause: Cause.Cause<unknown>): Option.Option<Effect.Effect<HttpServerResponse.HttpServerResponse>> => {
  if (Cause.isInterruptedOnly(cause)) return Option.none()
  const failure = Cause.failureOption(cause)
  const value: unknown = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
  if (isApiError(value)) return Option.some(Effect.succeed(respondError(value)))
  const tag = typeof value === "object" && value !== null && "_tag" in value ? value._tag : undefined
  if (tag === "HttpApiDecodeError") {
    const issues = (value as { readonly issues: ReadonlyArray<{ readonly path: ReadonlyArray<unknown>; readonly message: string }> }).issues
      .map((i) => ({ path: i.path.map(String).join("."), message: i.message }))
    const first = issues[0]
    const summary = first === undefined ? "is invalid" : first.path === "" ? first.message : `${first.path}: ${first.message}`
    return Option.some(Effect.succeed(respondError(apiError("VALIDATION_ERROR", `Invalid request: ${summary}`, { issues }))))
  }
  if (tag === "RouteNotFound") {
    return Option.some(Effect.succeed(respondError(apiError("NOT_FOUND", "No such route"))))
  }
  if (tag === "RequestError") {
    const e = value as { readonly reason: string; readonly cause?: unknown }
    if (e.cause instanceof Error && e.cause.message === "maxBytes exceeded") {
      return Option.some(Effect.succeed(respondError(apiError("PAYLOAD_TOO_LARGE", "The request body is too large"))))
    }
    if (e.reason === "Decode") {
      return Option.some(Effect.succeed(respondError(apiError("VALIDATION_ERROR", "The request body is not valid JSON"))))
    }
  }
  return Option.some(
    Effect.as(
      Effect.logError("customer360 http: unexpected failure", cause),
      respondError(apiError("INTERNAL_ERROR", "An unexpected error occurred"))
    )
  )
}

const hasBody = (request: HttpServerRequest.HttpServerRequest): boolean => {
  const length = request.headers["content-length"]
  return (length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined
}

/**
 * Wraps the whole app: refuses oversized and non-JSON bodies before routing, caps the body read,
 * and turns every failure into the error envelope.
 */
const envelope = (maxBodyBytes: number) => (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (request.method !== "GET" && request.method !== "HEAD" && hasBody(request)) {
      const length = Number(request.headers["content-length"] ?? "0")
      if (length > maxBodyBytes) {
        return respondError(apiError("PAYLOAD_TOO_LARGE", `The request body is over ${maxBodyBytes} bytes`))
      }
      const type = (request.headers["content-type"] ?? "").toLowerCase()
      if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/.test(type)) {
        return respondError(apiError("UNSUPPORTED_MEDIA_TYPE", "The request body must be application/json"))
      }
    }
    return yield* HttpIncomingMessage.withMaxBodySize(app, Option.some(maxBodyBytes))
  }).pipe(
    Effect.catchAllCause((cause) =>
      Option.match(responseFor(cause), {
        onNone: () => Effect.failCause(cause),
        onSome: (response) => response
      })
    )
  )

// ---------------------------------------------------------------------------------------------
// Handlers

const RANK: Record<Role, number> = { viewer: 0, staff: 1, manager: 2 }

const requireRole = (role: Role) =>
  Effect.flatMap(Principal, (principal) =>
    RANK[principal.role] >= RANK[role]
      ? Effect.void
      : Effect.fail(apiError("FORBIDDEN", `This operation needs the ${role} role; the token has ${principal.role}`)))

const customersGroup = HttpApiBuilder.group(Api, "customers", (handlers) =>
  Effect.gen(function*() {
    const customers = yield* Customers
    const wallets = yield* Wallets
    return handlers
      .handle("create", ({ payload }) =>
        requireRole("staff").pipe(Effect.zipRight(domain(customers.create(payload)))))
      .handle("search", ({ urlParams }) => domain(customers.search(urlParams)))
      .handle("recent", ({ urlParams }) => domain(customers.search({ page: 1, limit: urlParams.limit ?? 20 })))
      .handle("update", ({ path, payload }) =>
        requireRole("staff").pipe(Effect.zipRight(domain(customers.update(path.id, payload)))))
      .handle("delete", ({ path }) =>
        requireRole("manager").pipe(Effect.zipRight(domain(customers.delete(path.id)))))
      .handle("view", ({ path }) =>
        Effect.gen(function*() {
          const found = yield* domain(customers.findByPhone(path.phone))
          if (Option.isNone(found)) {
            return yield* Effect.fail(apiError("CUSTOMER_NOT_FOUND", `No customer with phone ${path.phone}`))
          }
          const [wallet, transactions] = yield* domain(
            Effect.all([wallets.get(path.phone), wallets.transactions(path.phone, { limit: 20 })], { concurrency: 2 })
          )
          return { customer: found.value, wallet, transactions }
        }))
  }))

const walletsGroup = HttpApiBuilder.group(Api, "wallets", (handlers) =>
  Effect.gen(function*() {
    const wallets = yield* Wallets
    return handlers
      .handle("get", ({ path }) => domain(wallets.get(path.phone)))
      .handle("transactions", ({ path, urlParams }) => domain(wallets.transactions(path.phone, urlParams)))
      .handle("deposit", ({ path, payload }) =>
        requireRole("staff").pipe(Effect.zipRight(domain(wallets.deposit({ ...payload, phone: path.phone })))))
      .handle("withdraw", ({ path, payload }) =>
        requireRole("manager").pipe(Effect.zipRight(domain(wallets.withdraw({ ...payload, phone: path.phone })))))
      .handle("credit", ({ path, payload }) =>
        requireRole("manager").pipe(Effect.zipRight(domain(wallets.issueVirtualCredit({ ...payload, phone: path.phone })))))
  }))

const CHANNELS: ReadonlyArray<Channel> = ["customers", "wallets", "tickets"]

const sse = (event: StoredEvent): string =>
  `event: ${event.type}\nid: ${event.id}\ndata: ${JSON.stringify(event)}\n\n`

const operationsGroup = (keepAlive: Duration.Duration) =>
  HttpApiBuilder.group(Api, "operations", (handlers) =>
    Effect.gen(function*() {
      const wallets = yield* Wallets
      const live = yield* LiveEvents.LiveEvents
      return handlers
        .handle("events", ({ request, urlParams }) =>
          Effect.gen(function*() {
            const requested = (urlParams.channels ?? "customers,wallets").split(",").map((c) => c.trim()).filter((c) => c !== "")
            const unknown = requested.find((c) => !(CHANNELS as ReadonlyArray<string>).includes(c))
            if (unknown !== undefined || requested.length === 0) {
              return yield* Effect.fail(apiError("VALIDATION_ERROR", `channels must be a comma-separated list of ${CHANNELS.join(", ")}`))
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
        .handle("expireCredits", () => requireRole("manager").pipe(Effect.zipRight(domain(wallets.expireCredits()))))
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

const authentication = (tokens: ReadonlyMap<string, Role>) =>
  Layer.succeed(
    Authentication,
    Authentication.of({
      bearer: (token) => {
        const role = tokens.get(Redacted.value(token))
        return role === undefined
          ? Effect.fail(apiError("UNAUTHORIZED", "A valid bearer token is required"))
          : Effect.succeed({ role })
      }
    })
  )

/**
 * The API, ready to serve: `HttpApi.Api` for `HttpApiBuilder.httpApp` / `toWebHandler`, over the
 * library's services (`Customer360.layer`).
 *
 * @since 0.1.0
 */
export const layer = (options: HttpOptions) => {
  const keepAlive = Duration.decode(options.keepAlive ?? Duration.seconds(15))
  return HttpApiBuilder.api(Api).pipe(
    Layer.provide(Layer.mergeAll(customersGroup, walletsGroup, operationsGroup(keepAlive), systemGroup)),
    Layer.provide(Layer.mergeAll(authentication(options.tokens), LiveEvents.layer({ pollInterval: options.eventPollInterval, sharing: options.eventSharing }))),
    Layer.merge(HttpApiBuilder.middleware(envelope(options.maxBodyBytes ?? 65_536)))
  )
}
