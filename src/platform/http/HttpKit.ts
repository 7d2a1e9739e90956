/**
 * What every module's HTTP group shares (see the README's "The HTTP API"): the error envelope and
 * its codes, roles and bearer-token authentication, the role an endpoint requires and the body
 * fields that need a higher one — declared once, on the endpoint ({@link withRole}) and enforced by
 * {@link authorized} — the mapping of the library's typed failures to error codes, and the
 * envelope every request goes through (body limits, UTF-8, nesting; every 500 logged). A module declares its endpoints in its `Api.ts` and its thin handlers in
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
import * as Stream from "effect/Stream"
import * as UrlParams from "@effect/platform/UrlParams"
import { ValidationError } from "../../kernel/Errors.js"
import { MAX_NESTING, nestsDeeperThan, tooDeep } from "../../kernel/Nesting.js"

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Every error code the API and its hosts send, with its HTTP status. `BAD_REQUEST`,
 * `REQUEST_TIMEOUT` and `HEADERS_TOO_LARGE` come from the HTTP server itself, for requests that
 * never reached the API (see {@link clientErrorReply}).
 *
 * @since 0.1.0
 */
export const errorStatus = {
  VALIDATION_ERROR: 400,
  INVALID_PHONE: 400,
  INVALID_AMOUNT: 400,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CUSTOMER_NOT_FOUND: 404,
  TICKET_NOT_FOUND: 404,
  TRANSFER_NOT_FOUND: 404,
  PURCHASE_NOT_FOUND: 404,
  FLAG_NOT_FOUND: 404,
  REQUEST_TIMEOUT: 408,
  CUSTOMER_EXISTS: 409,
  IDEMPOTENCY_CONFLICT: 409,
  INVALID_TRANSITION: 409,
  INVALID_ACTION: 409,
  TRANSFER_ALREADY_LINKED: 409,
  CUSTOMER_BLACKLISTED: 409,
  JOB_RUNNING: 409,
  MERGE_REFUSED: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INSUFFICIENT_FUNDS: 422,
  RETURN_EXCEEDS_PURCHASE: 422,
  HEADERS_TOO_LARGE: 431,
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
/** 404: no such route, or no such customer, ticket, transfer, purchase or fraud flag. @since 0.1.0 */
export const NotFound = errorResponse("NotFound", "No such route, customer, ticket, transfer, purchase or flag.", [
  "CUSTOMER_NOT_FOUND",
  "NOT_FOUND",
  "TICKET_NOT_FOUND",
  "TRANSFER_NOT_FOUND",
  "PURCHASE_NOT_FOUND",
  "FLAG_NOT_FOUND"
])
/**
 * 409: a phone or e-mail taken, a reference reused with another payload, a ticket transition or
 * action its state does not allow, a transfer already linked, a purchase of a blacklisted customer, a
 * recomputation while another runs, a merge that cannot be done as asked.
 *
 * @since 0.1.0
 */
export const Conflict = errorResponse("Conflict", "The request conflicts with stored data; nothing was written.", [
  "CUSTOMER_EXISTS",
  "IDEMPOTENCY_CONFLICT",
  "INVALID_TRANSITION",
  "INVALID_ACTION",
  "TRANSFER_ALREADY_LINKED",
  "CUSTOMER_BLACKLISTED",
  "JOB_RUNNING",
  "MERGE_REFUSED"
])
/** 413: the body is over 64 KiB. @since 0.1.0 */
export const PayloadTooLarge = errorResponse("PayloadTooLarge", "The request body is over 64 KiB.", ["PAYLOAD_TOO_LARGE"])
/** 415: a body that is not `application/json`. @since 0.1.0 */
export const UnsupportedMediaType = errorResponse("UnsupportedMediaType", "The request body must be application/json.", [
  "UNSUPPORTED_MEDIA_TYPE"
])
/** 422: the wallet cannot pay the withdrawal, or a return is above what is left of its purchase; nothing changed. @since 0.1.0 */
export const Unprocessable = errorResponse("Unprocessable", "The wallet cannot pay this, or the purchase has not that much left; nothing changed.", [
  "INSUFFICIENT_FUNDS",
  "RETURN_EXCEEDS_PURCHASE"
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
export class Principal extends Context.Tag("customer360/http/Principal")<Principal, {
  readonly role: Role
  /**
   * Who the caller is, for activity records: the token's name when `C360_TOKENS` gives one
   * (`token:role:name`), else `api:<role>`. Never the token itself.
   */
  readonly actor: string
}>() {}

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

const RANK: Record<Role, number> = { viewer: 0, staff: 1, manager: 2 }

/**
 * The role an endpoint requires, as an annotation of the endpoint (absent: any authenticated
 * caller, i.e. `viewer`). Declared with {@link withRole}; enforced by {@link authorized}.
 *
 * @since 0.1.0
 */
export class RequiredRole extends Context.Tag("customer360/http/RequiredRole")<RequiredRole, Role>() {}

/**
 * The fields of an endpoint's body that need a higher role than the endpoint itself, as an
 * annotation of the endpoint (field name → role): a request whose body has such a field (at its
 * top level, whatever its value) needs that role. Declared with {@link withRole}; enforced by
 * {@link authorized}.
 *
 * @since 0.1.0
 */
export class FieldRoles extends Context.Tag("customer360/http/FieldRoles")<FieldRoles, Readonly<Record<string, Role>>>() {}

/**
 * What an endpoint's role policy may add to its role: `fields`, the body fields that need a
 * higher role (e.g. `{ status: "manager" }`).
 *
 * @since 0.1.0
 */
export interface RolePolicy {
  readonly fields?: Readonly<Record<string, Role>> | undefined
}

/**
 * Declares the role an endpoint requires, once, and the body fields that need a higher one: the
 * annotations that {@link authorized} enforces and the OpenAPI summary ("… (staff)", "… (staff;
 * status: manager)") and description both come from it. A field role that is not above the
 * endpoint's role is a declaration error (thrown when the API is declared).
 *
 * @since 0.1.0
 */
export const withRole = (role: Role, summary: string, policy: RolePolicy = {}) =>
<E extends HttpApiEndpoint.HttpApiEndpoint.Any>(endpoint: E): E => {
  const fields = Object.entries(policy.fields ?? {})
  for (const [field, needs] of fields) {
    if (!(RANK[needs] > RANK[role])) {
      throw new Error(`customer360 http: the field ${field} needs ${needs}, which is not above the endpoint's role ${role}`)
    }
  }
  const declared = (endpoint as unknown as HttpApiEndpoint.HttpApiEndpoint.AnyWithProps).annotate(RequiredRole, role)
  if (fields.length === 0) return declared.annotate(OpenApi.Summary, `${summary} (${role})`) as unknown as E
  const rules = fields.map(([field, needs]) => `a body with \`${field}\` needs the ${needs} role`).join("; ")
  const description = Option.match(Context.getOption(declared.annotations, OpenApi.Description), {
    onNone: () => `Needs the ${role} role; ${rules}.`,
    onSome: (text) => `${text}\n\nNeeds the ${role} role; ${rules}.`
  })
  return declared
    .annotate(FieldRoles, Object.fromEntries(fields))
    .annotate(OpenApi.Summary, `${summary} (${role}; ${fields.map(([field, needs]) => `${field}: ${needs}`).join(", ")})`)
    .annotate(OpenApi.Description, description) as unknown as E
}

const declaredEndpoint = (group: HttpApiGroup.HttpApiGroup.Any, endpoint: string) => {
  const declared = (group as HttpApiGroup.HttpApiGroup.AnyWithProps).endpoints[endpoint]
  if (declared === undefined) throw new Error(`customer360 http: no endpoint ${endpoint}`)
  return declared
}

/** The role the endpoint requires (its {@link RequiredRole} annotation), `viewer` when it has none. @since 0.1.0 */
export const roleOf = (group: HttpApiGroup.HttpApiGroup.Any, endpoint: string): Role =>
  Option.getOrElse(Context.getOption(declaredEndpoint(group, endpoint).annotations, RequiredRole), () => "viewer" as const)

/** The body fields of the endpoint that need a higher role (its {@link FieldRoles} annotation). @since 0.1.0 */
export const fieldRolesOf = (group: HttpApiGroup.HttpApiGroup.Any, endpoint: string): Readonly<Record<string, Role>> =>
  Option.getOrElse(Context.getOption(declaredEndpoint(group, endpoint).annotations, FieldRoles), () => ({}))

/**
 * Runs the handler's effect only if the caller's role is at least the one the endpoint declares
 * and, for each body field with a role of its own ({@link FieldRoles}) that the request's
 * `payload` has, at least that one; otherwise fails `FORBIDDEN` before the effect runs, so a
 * refused call writes nothing. An endpoint that declares field roles must be given its request
 * (`authorized(Group, "update", { payload })`): without it the handler dies, loudly, rather than
 * let the field through.
 *
 * @since 0.1.0
 */
export const authorized = (
  group: HttpApiGroup.HttpApiGroup.Any,
  endpoint: string,
  request?: { readonly payload?: unknown }
) => {
  const role = roleOf(group, endpoint)
  const fields = Object.entries(fieldRolesOf(group, endpoint))
  return <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | ApiError, R | Principal> => {
    if (fields.length > 0 && request === undefined) {
      return Effect.dieMessage(`customer360 http: ${endpoint} declares roles for body fields; pass its request to authorized`)
    }
    const payload = request?.payload
    let needed: Role = role
    let field: string | undefined
    for (const [name, needs] of fields) {
      if (typeof payload === "object" && payload !== null && Object.hasOwn(payload, name) && RANK[needs] > RANK[needed]) {
        needed = needs
        field = name
      }
    }
    if (needed === "viewer") return effect
    return Effect.flatMap(Principal, (principal): Effect.Effect<A, E | ApiError, R> =>
      RANK[principal.role] >= RANK[needed]
        ? effect
        : Effect.fail(apiError(
          "FORBIDDEN",
          field === undefined
            ? `This operation needs the ${needed} role; the token has ${principal.role}`
            : `Changing ${field} needs the ${needed} role; the token has ${principal.role}`
        )))
  }
}

/**
 * The effect, if the caller's role is at least `role`; else `FORBIDDEN`, saying what needed it.
 * For a rule that depends on a value of the body (a ticket action that moves money), on top of the
 * endpoint's own role.
 *
 * @since 0.2.0
 */
export const requireRole = (role: Role, what: string) =>
<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | ApiError, R | Principal> =>
  Effect.flatMap(Principal, (principal): Effect.Effect<A, E | ApiError, R> =>
    RANK[principal.role] >= RANK[role]
      ? effect
      : Effect.fail(apiError("FORBIDDEN", `${what} needs the ${role} role; the token has ${principal.role}`)))

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

/**
 * The fields of a decoded body or query that are present: the services take optional fields as
 * absent, not as `undefined` (their schemas refuse `undefined` values under exact optional types).
 *
 * @since 0.2.0
 */
export const defined = <A extends Record<string, unknown>>(o: A): { [K in keyof A]?: Exclude<A[K], undefined> } =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof A]?: Exclude<A[K], undefined> }

/**
 * The caller's actor, for the services' activity records.
 *
 * @since 0.2.0
 */
export const actor: Effect.Effect<string, never, Principal> = Effect.map(Principal, (p) => p.actor)

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
    case "TicketNotFound":
      return apiError("TICKET_NOT_FOUND", e.message, { code: e.code })
    case "InvalidTransition":
      return apiError("INVALID_TRANSITION", e.message, { from: e.from, to: e.to })
    case "InvalidTicketAction":
      return apiError("INVALID_ACTION", e.message, { action: e.action, reason: e.reason })
    case "TransferNotFound":
      return apiError("TRANSFER_NOT_FOUND", e.message, { id: e.id })
    case "TransferAlreadyLinked":
      return apiError("TRANSFER_ALREADY_LINKED", e.message, { id: e.id, customerId: e.customerId })
    case "WebhookUnauthorized":
      return apiError("UNAUTHORIZED", e.message)
    case "PurchaseNotFound":
      return apiError("PURCHASE_NOT_FOUND", e.message, { reference: e.reference })
    case "CustomerBlacklisted":
      return apiError("CUSTOMER_BLACKLISTED", e.message, { customerId: e.customerId })
    case "ReturnExceedsPurchase":
      return apiError("RETURN_EXCEEDS_PURCHASE", e.message, { purchaseReference: e.purchaseReference, returnable: e.returnable })
    case "RecomputeRunning":
      return apiError("JOB_RUNNING", e.message, { job: "rfm" })
    case "MergeRefused":
      return apiError("MERGE_REFUSED", e.message, { reason: e.reason })
    case "FraudFlagNotFound":
      return apiError("FLAG_NOT_FOUND", e.message, { flag: e.flag })
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
 * The failure behind each `INTERNAL_ERROR` body that {@link domain} made, so that the envelope
 * logs what actually went wrong (the body itself says nothing of it). Keyed by the body as made:
 * Effect hands a failure on wrapped in a proxy that carries its span (`Cause.originalError`
 * unwraps it).
 */
const unexpectedCauses = new WeakMap<object, Cause.Cause<unknown>>()

/**
 * A service call whose typed failures become error bodies. A failure that becomes
 * `INTERNAL_ERROR` (a `StorageError` with reason `unexpected` or `corrupt`, an unknown failure)
 * keeps its cause for the envelope, which logs it; a defect stays a defect (the envelope logs it
 * and answers `INTERNAL_ERROR`).
 *
 * @since 0.1.0
 */
export const domain = <A, E extends { readonly _tag: string; readonly message: string }, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, ApiError, R> =>
  Effect.catchAllCause(effect, (cause) => {
    const failure = Cause.failureOption(cause)
    if (Option.isNone(failure) || Cause.isDie(cause)) return Effect.failCause(cause as Cause.Cause<never>)
    const error = fromDomain(failure.value as unknown as Parameters<typeof fromDomain>[0])
    if (error.error.code === "INTERNAL_ERROR") unexpectedCauses.set(error, cause)
    return Effect.fail(error)
  })

/** @since 0.1.0 */
export const respondError = (error: ApiError): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson(error, { status: errorStatus[error.error.code] })

/** Every 500 is logged, with its cause, here and only here; its body says nothing of it. */
const internalError = (cause: Cause.Cause<unknown>) =>
  Effect.as(
    Effect.logError("customer360 http: unexpected failure", cause),
    respondError(apiError("INTERNAL_ERROR", "An unexpected error occurred"))
  )

/** The response for a failure anywhere in the app (`None`: an interruption, left as it is). */
const responseFor = (cause: Cause.Cause<unknown>): Option.Option<Effect.Effect<HttpServerResponse.HttpServerResponse>> => {
  if (Cause.isInterruptedOnly(cause)) return Option.none()
  const failure = Cause.failureOption(cause)
  const value: unknown = Option.isSome(failure) ? failure.value : Option.getOrUndefined(Cause.dieOption(cause))
  if (isApiError(value)) {
    return Option.some(
      value.error.code === "INTERNAL_ERROR"
        ? internalError(unexpectedCauses.get(Cause.originalError(value)) ?? cause)
        : Effect.succeed(respondError(value))
    )
  }
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
  return Option.some(internalError(cause))
}

const hasBody = (request: HttpServerRequest.HttpServerRequest): boolean => {
  const length = request.headers["content-length"]
  if ((length !== undefined && length !== "0") || request.headers["transfer-encoding"] !== undefined) return true
  // a web Request (a Worker) may carry a body of unannounced length
  const source: unknown = request.source
  return typeof Request !== "undefined" && source instanceof Request && source.body !== null && length === undefined
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

const notJson = () => apiError("UNSUPPORTED_MEDIA_TYPE", "The request body must be application/json")

/**
 * The request with its body already read, checked and parsed (or known to be empty): every way of
 * reading it answers from what the envelope read (the body's stream can be read only once), and
 * none waits on the connection. A multipart reading, which only a non-JSON content type asks for,
 * is refused (`UNSUPPORTED_MEDIA_TYPE`) instead of waiting for parts that never come.
 */
const withBody = (
  request: HttpServerRequest.HttpServerRequest,
  bytes: Uint8Array,
  text: string,
  json: unknown
): HttpServerRequest.HttpServerRequest =>
  Object.create(request, {
    text: { get: () => Effect.succeed(text) },
    json: { get: () => Effect.succeed(json) },
    arrayBuffer: { get: () => Effect.sync(() => bytes.slice().buffer) },
    stream: { get: () => Stream.succeed(bytes) },
    urlParamsBody: { get: () => Effect.sync(() => UrlParams.fromInput(new URLSearchParams(text))) },
    multipart: { get: () => Effect.fail(notJson()) },
    multipartStream: { get: () => Stream.fail(notJson()) },
    modify: {
      value: (options: Parameters<HttpServerRequest.HttpServerRequest["modify"]>[0]) =>
        withBody(request.modify(options), bytes, text, json)
    }
  }) as HttpServerRequest.HttpServerRequest

/** A request without a body, as Node's own reading reports it: no bytes, `null` as JSON. */
const withoutBody = (request: HttpServerRequest.HttpServerRequest) => withBody(request, new Uint8Array(0), "", null)

/**
 * Reads the whole body (at most `maxBodyBytes`) and refuses, with `VALIDATION_ERROR`, one that is
 * not UTF-8 (whatever charset it declares: JSON is UTF-8, and a replaced byte would make two
 * different references one), not JSON, or nested deeper than {@link MAX_NESTING} levels.
 */
const readBody = (request: HttpServerRequest.HttpServerRequest, maxBodyBytes: number) =>
  Effect.flatMap(
    HttpIncomingMessage.withMaxBodySize(request.arrayBuffer, Option.some(maxBodyBytes)),
    (raw): Effect.Effect<HttpServerRequest.HttpServerRequest, ApiError> => {
      // a plain Uint8Array (Node hands over a Buffer, whose `slice` shares its memory pool)
      const bytes = ArrayBuffer.isView(raw) ? new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength) : new Uint8Array(raw)
      let text: string
      try {
        text = utf8.decode(bytes)
      } catch {
        return Effect.fail(apiError("VALIDATION_ERROR", "The request body is not valid UTF-8", {
          issues: [{ path: "", message: "is not valid UTF-8" }]
        }))
      }
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        return Effect.fail(apiError("VALIDATION_ERROR", "The request body is not valid JSON", {
          issues: [{ path: "", message: "is not valid JSON" }]
        }))
      }
      if (nestsDeeperThan(json, MAX_NESTING)) {
        const error = tooDeep("The request body")
        return Effect.fail(apiError("VALIDATION_ERROR", error.message, { issues: error.issues }))
      }
      return Effect.succeed(withBody(request, bytes, text, json))
    }
  )

/** The default largest import body: 256 MiB. @since 0.5.0 */
export const DEFAULT_MAX_IMPORT_BYTES = 256 * 1024 * 1024

const IMPORT_MEDIA_TYPES: ReadonlyArray<string> = [
  "text/csv",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
]

/** `POST /api/imports/<kind>` with a CSV or XLSX body: the one request whose body is not JSON. */
const isImportUpload = (request: HttpServerRequest.HttpServerRequest): boolean => {
  if (request.method !== "POST") return false
  const path = request.url.split("?")[0] ?? ""
  if (!/^\/api\/imports\/[^/]+$/.test(path)) return false
  const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
  return IMPORT_MEDIA_TYPES.includes(type)
}

/** The request, its body's stream failing `PAYLOAD_TOO_LARGE` once past `maxBytes` (a body of unannounced length). */
const withLimitedStream = (request: HttpServerRequest.HttpServerRequest, maxBytes: number): HttpServerRequest.HttpServerRequest =>
  Object.create(request, {
    stream: {
      get: () => {
        let read = 0
        return request.stream.pipe(Stream.mapEffect((chunk: Uint8Array) => {
          read += chunk.length
          return read > maxBytes
            ? Effect.fail(apiError("PAYLOAD_TOO_LARGE", `The file is over ${maxBytes} bytes`))
            : Effect.succeed(chunk)
        }))
      }
    }
  }) as HttpServerRequest.HttpServerRequest

/**
 * @since 0.1.0
 * Wraps the whole app, so every endpoint of every host gets it: refuses oversized and non-JSON
 * bodies before routing; reads a body once, at most `maxBodyBytes`, and refuses one that is not
 * UTF-8, not JSON or nested more than 64 levels deep (`VALIDATION_ERROR`) before any handler or
 * authentication sees it; and turns every failure into the error envelope, logging each 500 with
 * its cause. The one exception (since 0.5.0): `POST /api/imports/<kind>` with a `text/csv` or XLSX
 * body passes through unread — its handler streams it — within `maxImportBytes` (default 256 MiB;
 * over it, 413, from the announced length or once the stream passes it).
 */
export const envelope = (maxBodyBytes: number, maxImportBytes: number = DEFAULT_MAX_IMPORT_BYTES) => (app: HttpApp.Default): HttpApp.Default =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (request.method === "GET" || request.method === "HEAD") return yield* app // their bodies are never read
    if (isImportUpload(request)) {
      // a POS export: streamed to its handler unread, within its own limit
      if (Number(request.headers["content-length"] ?? "0") > maxImportBytes) {
        return respondError(apiError("PAYLOAD_TOO_LARGE", `The file is over ${maxImportBytes} bytes`))
      }
      return yield* Effect.provideService(app, HttpServerRequest.HttpServerRequest, withLimitedStream(request, maxImportBytes))
    }
    if (!hasBody(request)) return yield* Effect.provideService(app, HttpServerRequest.HttpServerRequest, withoutBody(request))
    const length = Number(request.headers["content-length"] ?? "0")
    if (length > maxBodyBytes) {
      return respondError(apiError("PAYLOAD_TOO_LARGE", `The request body is over ${maxBodyBytes} bytes`))
    }
    const type = (request.headers["content-type"] ?? "").toLowerCase()
    if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/.test(type)) return respondError(notJson())
    const read = yield* readBody(request, maxBodyBytes)
    return yield* Effect.provideService(app, HttpServerRequest.HttpServerRequest, read)
  }).pipe(
    Effect.catchAllCause((cause) =>
      Option.match(responseFor(cause), {
        onNone: () => Effect.failCause(cause as Cause.Cause<never>),
        onSome: (response) => response
      })
    )
  )

const reasons: Partial<Record<ErrorCode, string>> = {
  BAD_REQUEST: "Bad Request",
  REQUEST_TIMEOUT: "Request Timeout",
  PAYLOAD_TOO_LARGE: "Payload Too Large",
  HEADERS_TOO_LARGE: "Request Header Fields Too Large"
}

/**
 * The whole HTTP/1.1 response, in the error envelope, for a request the HTTP server refused
 * before the API saw it — what a Node host writes from its server's `clientError` event, where
 * Node would otherwise answer with an empty body. `nodeCode` is the error's `code`:
 * `HPE_HEADER_OVERFLOW` → 431 `HEADERS_TOO_LARGE`, `HPE_CHUNK_EXTENSIONS_OVERFLOW` → 413
 * `PAYLOAD_TOO_LARGE`, `ERR_HTTP_REQUEST_TIMEOUT` → 408 `REQUEST_TIMEOUT` (the headers or the body
 * came too slowly), anything else → 400 `BAD_REQUEST` (not valid HTTP). The response closes the
 * connection.
 *
 * @since 0.1.0
 */
export const clientErrorReply = (nodeCode: string | undefined): string => {
  const [code, message]: [ErrorCode, string] = nodeCode === "HPE_HEADER_OVERFLOW"
    ? ["HEADERS_TOO_LARGE", "The request headers are too large"]
    : nodeCode === "HPE_CHUNK_EXTENSIONS_OVERFLOW"
    ? ["PAYLOAD_TOO_LARGE", "The request's chunk extensions are too large"]
    : nodeCode === "ERR_HTTP_REQUEST_TIMEOUT"
    ? ["REQUEST_TIMEOUT", "The request did not arrive in time"]
    : ["BAD_REQUEST", "The request is not valid HTTP"]
  const body = JSON.stringify({ error: { code, message } })
  return `HTTP/1.1 ${errorStatus[code]} ${reasons[code]}\r\n` +
    `content-type: application/json\r\ncontent-length: ${new TextEncoder().encode(body).length}\r\n` +
    `connection: close\r\n\r\n${body}`
}

// ---------------------------------------------------------------------------------------------
// Options, tokens, authentication

/**
 * Options of {@link layer}.
 *
 * - `tokens`: bearer token → role (see {@link parseTokens}). With no tokens every authenticated
 *   call is refused.
 * - `maxBodyBytes`: the largest request body accepted (default 65,536); larger ones get 413.
 * - `maxImportBytes`: the largest import file posted to `/api/imports/:kind` (default 256 MiB).
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
  /** The largest import body (`POST /api/imports/:kind`, CSV or XLSX; default 256 MiB). @since 0.5.0 */
  readonly maxImportBytes?: number | undefined
  readonly keepAlive?: Duration.DurationInput | undefined
  readonly eventPollInterval?: Duration.DurationInput | undefined
  readonly eventSharing?: "process" | "stream" | undefined
}

const ROLES: ReadonlyArray<Role> = ["viewer", "staff", "manager"]

/** The names given to tokens by {@link parseTokens}, by the map it returned. */
const tokenNames = new WeakMap<ReadonlyMap<string, Role>, ReadonlyMap<string, string>>()

/**
 * Parses `"tok1:manager,tok2:staff:linh,tok3:viewer"` (the `C360_TOKENS` format): token, role and,
 * optionally, a name that activity records show as the actor. Fails with a `ValidationError` naming
 * the first bad entry: a token must be at least 8 characters of `A-Z a-z 0-9 . _ ~ + / = -`, a role
 * one of `viewer`, `staff`, `manager`, a name 1–64 characters of `A-Z a-z 0-9 . _ @ -`, and a token
 * appear once.
 *
 * @since 0.1.0
 */
export const parseTokens = (spec: string | undefined): Either.Either<ReadonlyMap<string, Role>, ValidationError> => {
  const tokens = new Map<string, Role>()
  const names = new Map<string, string>()
  for (const [i, raw] of (spec ?? "").split(",").entries()) {
    const entry = raw.trim()
    if (entry === "") continue
    const [token = "", role = "", name, ...extra] = entry.split(":")
    if (!/^[A-Za-z0-9._~+/=-]{8,}$/.test(token)) {
      return Either.left(ValidationError.single(`tokens.${i}`, "a token must be at least 8 characters of A-Z a-z 0-9 . _ ~ + / = -"))
    }
    if (!(ROLES as ReadonlyArray<string>).includes(role)) {
      return Either.left(ValidationError.single(`tokens.${i}`, "the role must be viewer, staff or manager"))
    }
    if (extra.length > 0 || (name !== undefined && !/^[A-Za-z0-9._@-]{1,64}$/.test(name))) {
      return Either.left(ValidationError.single(`tokens.${i}`, "a token's name must be 1–64 characters of A-Z a-z 0-9 . _ @ -"))
    }
    if (tokens.has(token)) return Either.left(ValidationError.single(`tokens.${i}`, "the token appears twice"))
    tokens.set(token, role as Role)
    if (name !== undefined) names.set(token, name)
  }
  tokenNames.set(tokens, names)
  return Either.right(tokens)
}

/** The bearer-token authentication over the configured tokens. @since 0.1.0 */
export const authentication = (tokens: ReadonlyMap<string, Role>) =>
  Layer.succeed(
    Authentication,
    Authentication.of({
      bearer: (token) => {
        const value = Redacted.value(token)
        const role = tokens.get(value)
        return role === undefined
          ? Effect.fail(apiError("UNAUTHORIZED", "A valid bearer token is required"))
          : Effect.succeed({ role, actor: tokenNames.get(tokens)?.get(value) ?? `api:${role}` })
      }
    })
  )

