/**
 * What every module's HTTP group shares (see docs/http.md): the error envelope and its codes, roles
 * and bearer-token authentication, the role an endpoint requires — declared once, on the endpoint
 * ({@link withRole}) and enforced by {@link authorized} — and the mapping of the library's typed
 * failures to error codes. A module declares its endpoints in its `Api.ts` and its thin handlers in
 * its `Http.ts` with these; the registry (`src/modules.ts`) composes them into one API.
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import type * as HttpApp from "@effect/platform/HttpApp"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import type * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import type * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { ValidationError } from "../../kernel/Errors.js"

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Every error code the API sends, with its HTTP status.
 *
 * @since 0.1.0
 */
export const errorStatus = {
  VALIDATION_ERROR: 400,
  INVALID_PHONE: 400,
  INVALID_AMOUNT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CUSTOMER_NOT_FOUND: 404,
  CUSTOMER_EXISTS: 409,
  IDEMPOTENCY_CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INSUFFICIENT_FUNDS: 422,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503
} as const

/** @since 0.1.0 */
export type ErrorCode = keyof typeof errorStatus

const errorResponse = <const Codes extends readonly [ErrorCode, ...Array<ErrorCode>]>(
  identifier: string,
  description: string,
  codes: Codes
) => {
  const status = errorStatus[codes[0]]
  return Schema.Struct({
    error: Schema.Struct({
      code: Schema.Literal(...codes),
      message: Schema.String,
      details: Schema.optional(Schema.Unknown)
    })
  }).annotations({ identifier, description, ...HttpApiSchema.annotations({ status }) })
}

/** 400: the input is malformed or invalid; nothing was written. @since 0.1.0 */
export const BadRequest = errorResponse("BadRequest", "The request is invalid; nothing was written.", [
  "VALIDATION_ERROR",
  "INVALID_PHONE",
  "INVALID_AMOUNT"
])
/** 401: no token, or a token that is not configured. @since 0.1.0 */
export const Unauthorized = errorResponse("Unauthorized", "A valid bearer token is required.", ["UNAUTHORIZED"])
/** 403: the token's role may not do this. @since 0.1.0 */
export const Forbidden = errorResponse("Forbidden", "The token's role does not allow this operation.", ["FORBIDDEN"])
/** 404: no such route, or no such customer. @since 0.1.0 */
export const NotFound = errorResponse("NotFound", "No such route or customer.", ["CUSTOMER_NOT_FOUND", "NOT_FOUND"])
/** 409: a phone or e-mail taken, or a reference reused with another payload. @since 0.1.0 */
export const Conflict = errorResponse("Conflict", "The request conflicts with stored data; nothing was written.", [
  "CUSTOMER_EXISTS",
  "IDEMPOTENCY_CONFLICT"
])
/** 413: the body is over 64 KiB. @since 0.1.0 */
export const PayloadTooLarge = errorResponse("PayloadTooLarge", "The request body is over 64 KiB.", ["PAYLOAD_TOO_LARGE"])
/** 415: a body that is not `application/json`. @since 0.1.0 */
export const UnsupportedMediaType = errorResponse("UnsupportedMediaType", "The request body must be application/json.", [
  "UNSUPPORTED_MEDIA_TYPE"
])
/** 422: the wallet cannot pay the withdrawal; nothing changed. @since 0.1.0 */
export const Unprocessable = errorResponse("Unprocessable", "The wallet cannot pay this; nothing changed.", [
  "INSUFFICIENT_FUNDS"
])
/** 500: an unexpected failure; details are in the server's log, never in the response. @since 0.1.0 */
export const InternalError = errorResponse("InternalError", "An unexpected failure.", ["INTERNAL_ERROR"])
/** 503: the database is unreachable or too contended; retrying later may work. @since 0.1.0 */
export const Unavailable = errorResponse("Unavailable", "The database is unavailable or contended; retry later.", [
  "SERVICE_UNAVAILABLE"
])

/**
 * Any error body the API sends.
 *
 * @since 0.1.0
 */
export type ApiError =
  | typeof BadRequest.Type
  | typeof Unauthorized.Type
  | typeof Forbidden.Type
  | typeof NotFound.Type
  | typeof Conflict.Type
  | typeof PayloadTooLarge.Type
  | typeof UnsupportedMediaType.Type
  | typeof Unprocessable.Type
  | typeof InternalError.Type
  | typeof Unavailable.Type

// ---------------------------------------------------------------------------------------------
// Authentication

/**
 * What a token may do: `viewer` < `staff` < `manager`; each role can do everything the one before
 * it can.
 *
 * @since 0.1.0
 */
export const Role = Schema.Literal("viewer", "staff", "manager")
/** @since 0.1.0 */
export type Role = typeof Role.Type

/**
 * The authenticated caller of the current request.
 *
 * @since 0.1.0
 */
export class Principal extends Context.Tag("customer360/http/Principal")<Principal, { readonly role: Role }>() {}

/**
 * Bearer-token authentication of every `/api` endpoint but the OpenAPI document.
 *
 * @since 0.1.0
 */
export class Authentication extends HttpApiMiddleware.Tag<Authentication>()("customer360/http/Authentication", {
  failure: Unauthorized,
  provides: Principal,
  security: { bearer: HttpApiSecurity.bearer }
}) {}

// ---------------------------------------------------------------------------------------------
// Roles

/**
 * The role an endpoint requires, as an annotation of the endpoint (absent: any authenticated
 * caller, i.e. `viewer`). Declared with {@link withRole}; enforced by {@link authorized}.
 *
 * @since 0.1.0
 */
export class RequiredRole extends Context.Tag("customer360/http/RequiredRole")<RequiredRole, Role>() {}

/**
 * Declares the role an endpoint requires, once: the annotation that {@link authorized} enforces and
 * the OpenAPI summary ("… (staff)") both come from it.
 *
 * @since 0.1.0
 */
export const withRole = (role: Role, summary: string) =>
<E extends HttpApiEndpoint.HttpApiEndpoint.Any>(endpoint: E): E =>
  (endpoint as unknown as HttpApiEndpoint.HttpApiEndpoint.AnyWithProps)
    .annotate(RequiredRole, role)
    .annotate(OpenApi.Summary, `${summary} (${role})`) as unknown as E

const RANK: Record<Role, number> = { viewer: 0, staff: 1, manager: 2 }

/** The role the endpoint requires (its {@link RequiredRole} annotation), `viewer` when it has none. @since 0.1.0 */
export const roleOf = (group: HttpApiGroup.HttpApiGroup.Any, endpoint: string): Role => {
  const declared = (group as HttpApiGroup.HttpApiGroup.AnyWithProps).endpoints[endpoint]
  if (declared === undefined) throw new Error(`customer360 http: no endpoint ${endpoint}`)
  return Option.getOrElse(Context.getOption(declared.annotations, RequiredRole), () => "viewer" as const)
}

/**
 * Runs the handler's effect only if the caller's role is at least the one the endpoint declares;
 * otherwise fails `FORBIDDEN`.
 *
 * @since 0.1.0
 */
export const authorized = (group: HttpApiGroup.HttpApiGroup.Any, endpoint: string) => {
  const role = roleOf(group, endpoint)
  return <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | ApiError, R | Principal> =>
    role === "viewer"
      ? effect
      : Effect.flatMap(Principal, (principal): Effect.Effect<A, E | ApiError, R> =>
        RANK[principal.role] >= RANK[role]
          ? effect
          : Effect.fail(apiError("FORBIDDEN", `This operation needs the ${role} role; the token has ${principal.role}`)))
}

// ---------------------------------------------------------------------------------------------
// Shared shapes

/** An instant as an ISO-8601 UTC string. @since 0.1.0 */
export const Instant = Schema.Date.annotations({ description: "ISO-8601 UTC instant" })
/** An integer query parameter. @since 0.1.0 */
export const IntFromString = Schema.NumberFromString.annotations({ description: "an integer" })
/** `:phone` in a path: a phone number in any format. @since 0.1.0 */
export const PhoneParam = HttpApiSchema.param(
  "phone",
  Schema.String.annotations({ description: "a phone number in any format of DOMAIN §1" })
)
/** `:id` in a path: a customer id. @since 0.1.0 */
export const IdParam = HttpApiSchema.param("id", Schema.String.annotations({ description: "a customer id (cus_…)" }))

/**
 * The API of one group with the library's shared errors: what a module's handlers are built
 * against (`HttpApiBuilder.group(apiOf(Group), …)`); the handlers serve the whole API, whose name
 * is the same.
 *
 * @since 0.1.0
 */
export const apiOf = <G extends HttpApiGroup.HttpApiGroup.Any>(group: G) => withErrors(HttpApi.make("customer360").add(group))

/** Adds the error responses every endpoint may give. @since 0.1.0 */
export const withErrors = <Id extends string, Groups extends HttpApiGroup.HttpApiGroup.Any, E, R>(
  api: HttpApi.HttpApi<Id, Groups, E, R>
) =>
  api
    .addError(BadRequest)
    .addError(Forbidden)
    .addError(NotFound)
    .addError(Conflict)
    .addError(PayloadTooLarge)
    .addError(UnsupportedMediaType)
    .addError(Unprocessable)
    .addError(InternalError)
    .addError(Unavailable)

// ---------------------------------------------------------------------------------------------
// Failures as error bodies

/** @since 0.1.0 */
export const apiError = <C extends ErrorCode>(code: C, message: string, details?: unknown) => ({
  error: details === undefined ? { code, message } : { code, message, details }
}) as Extract<ApiError, { readonly error: { readonly code: C } }>

/** @since 0.1.0 */
export const isApiError = (u: unknown): u is ApiError =>
  typeof u === "object" && u !== null && "error" in u && typeof u.error === "object" && u.error !== null &&
  "code" in u.error && typeof u.error.code === "string" && u.error.code in errorStatus

/** The API error for a failure of a service. */
/** @since 0.1.0 */
export const fromDomain = (e: { readonly _tag: string; readonly message: string } & Record<string, unknown>): ApiError => {
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

/**
 * A service call whose typed failures become error bodies (a defect stays a defect: the envelope
 * logs it and answers `INTERNAL_ERROR`).
 *
 * @since 0.1.0
 */
export const domain = <A, E extends { readonly _tag: string; readonly message: string }, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, ApiError, R> =>
  Effect.mapError(effect, (e) => fromDomain(e as unknown as Parameters<typeof fromDomain>[0]))

/** @since 0.1.0 */
export const respondError = (error: ApiError): HttpServerResponse.HttpServerResponse =>
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
 * @since 0.1.0
 * Wraps the whole app: refuses oversized and non-JSON bodies before routing, caps the body read,
 * and turns every failure into the error envelope.
 */
export const envelope = (maxBodyBytes: number) => (app: HttpApp.Default): HttpApp.Default =>
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
// Options, tokens, authentication

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

/** The bearer-token authentication over the configured tokens. @since 0.1.0 */
export const authentication = (tokens: ReadonlyMap<string, Role>) =>
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

