/**
 * The HTTP API of the library, declared once with `@effect/platform` `HttpApi` and Schema. Every
 * host serves this declaration (Express through `NodeHttpServer.makeHandler`, a Cloudflare Worker
 * through `HttpApiBuilder.toWebHandler`), and its OpenAPI document is generated from it.
 *
 * Conventions, the same on every endpoint:
 * - Paths live under `/api`, except `GET /health`.
 * - A request body is JSON (`content-type: application/json`), at most 64 KiB.
 * - Every failure is `{ "error": { "code", "message", "details"? } }` with the status of its code
 *   (see {@link ErrorCode}); no stack trace or driver message is ever sent.
 * - Authentication is a bearer token; each token has a {@link Role}: `viewer` reads, `staff` also
 *   creates and edits customers and deposits, `manager` also deletes customers, withdraws, issues
 *   credits and runs jobs.
 * - Amounts are integer đồng (JSON numbers); instants are ISO-8601 UTC strings.
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiMiddleware from "@effect/platform/HttpApiMiddleware"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as HttpApiSecurity from "@effect/platform/HttpApiSecurity"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import { CreateCustomerInput, Customer, CustomerPatch } from "../customers/Customer.js"
import { CreditResult, DepositResult, DepositSource, LedgerEntry, WalletView, WithdrawResult } from "../wallets/Wallet.js"

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
// Shapes

const Instant = Schema.Date.annotations({ description: "ISO-8601 UTC instant" })

/**
 * A customer as JSON: the fields of `Customer`, instants as ISO strings.
 *
 * @since 0.1.0
 */
export const CustomerJson = Schema.Struct({
  ...Customer.fields,
  lastPurchaseAt: Schema.NullOr(Instant),
  createdAt: Instant,
  updatedAt: Instant
}).annotations({ identifier: "Customer" })

/** A page of customers, newest first. @since 0.1.0 */
export const CustomerPage = Schema.Struct({
  items: Schema.Array(CustomerJson),
  total: Schema.Int,
  page: Schema.Int,
  limit: Schema.Int
}).annotations({ identifier: "CustomerPage" })

/** A page of ledger entries, newest first; pass `nextCursor` as `cursor` to read on. @since 0.1.0 */
export const TransactionsPage = Schema.Struct({
  items: Schema.Array(LedgerEntry),
  nextCursor: Schema.NullOr(Schema.String)
}).annotations({ identifier: "TransactionsPage" })

/** The 360 view of one customer. @since 0.1.0 */
export const CustomerView = Schema.Struct({
  customer: CustomerJson,
  wallet: WalletView,
  transactions: TransactionsPage
}).annotations({ identifier: "CustomerView" })

const IntFromString = Schema.NumberFromString.annotations({ description: "an integer" })
const PhoneParam = HttpApiSchema.param("phone", Schema.String.annotations({ description: "a phone number in any format of DOMAIN §1" }))
const IdParam = HttpApiSchema.param("id", Schema.String.annotations({ description: "a customer id (cus_…)" }))

// Bodies are declared with their JSON shape only; the services validate every value and answer
// with the library's own error codes (INVALID_PHONE, INVALID_AMOUNT, VALIDATION_ERROR).

/** Body of `POST /api/wallet/:phone/deposit`. @since 0.1.0 */
export const DepositBody = Schema.Struct({
  amount: Schema.Number,
  reference: Schema.String,
  source: Schema.encodedSchema(DepositSource),
  note: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "DepositBody" })

/** Body of `POST /api/wallet/:phone/withdraw`. @since 0.1.0 */
export const WithdrawBody = Schema.Struct({
  amount: Schema.Number,
  reference: Schema.String,
  note: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "WithdrawBody" })

/** Body of `POST /api/wallet/:phone/virtual-credit`. @since 0.1.0 */
export const CreditBody = Schema.Struct({
  amount: Schema.Number,
  reason: Schema.String,
  reference: Schema.String,
  expiresInDays: Schema.optional(Schema.Number),
  expiresAt: Schema.optional(Schema.String),
  ticketId: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "CreditBody" })

/** Result of `POST /api/jobs/expire-credits`. @since 0.1.0 */
export const ExpiryResult = Schema.Struct({ expired: Schema.Int, amount: Schema.Int }).annotations({
  identifier: "ExpiryResult"
})

/** Body of `GET /health`. @since 0.1.0 */
export const Health = Schema.Struct({ status: Schema.Literal("ok"), database: Schema.Literal("ok") })

// ---------------------------------------------------------------------------------------------
// Endpoints

/** `/api/customers…`. @since 0.1.0 */
export class CustomersGroup extends HttpApiGroup.make("customers")
  .add(
    HttpApiEndpoint.post("create", "/customers")
      .setPayload(Schema.encodedSchema(CreateCustomerInput))
      .addSuccess(CustomerJson, { status: 201 })
      .annotate(OpenApi.Summary, "Create a customer (staff)")
  )
  .add(
    HttpApiEndpoint.get("search", "/customers/search")
      .setUrlParams(Schema.Struct({
        q: Schema.optional(Schema.String),
        page: Schema.optional(IntFromString),
        limit: Schema.optional(IntFromString)
      }))
      .addSuccess(CustomerPage)
      .annotate(OpenApi.Summary, "Search by phone fragment or name, newest first")
  )
  .add(
    HttpApiEndpoint.get("recent", "/customers/recent")
      .setUrlParams(Schema.Struct({ limit: Schema.optional(IntFromString) }))
      .addSuccess(CustomerPage)
      .annotate(OpenApi.Summary, "The newest customers")
  )
  .add(
    HttpApiEndpoint.put("update")`/customers/${IdParam}`
      .setPayload(Schema.encodedSchema(CustomerPatch))
      .addSuccess(CustomerJson)
      .annotate(OpenApi.Summary, "Update a customer (staff)")
  )
  .add(
    HttpApiEndpoint.del("delete")`/customers/${IdParam}`
      .addSuccess(CustomerJson)
      .annotate(OpenApi.Summary, "Soft-delete a customer: status becomes inactive (manager)")
  )
  .add(
    HttpApiEndpoint.get("view")`/customer/${PhoneParam}`
      .addSuccess(CustomerView)
      .annotate(OpenApi.Summary, "The 360 view of a customer: profile, wallet, latest transactions")
  )
  .middleware(Authentication)
  .prefix("/api")
{}

/** `/api/wallet/:phone…`. @since 0.1.0 */
export class WalletsGroup extends HttpApiGroup.make("wallets")
  .add(HttpApiEndpoint.get("get")`/wallet/${PhoneParam}`.addSuccess(WalletView))
  .add(
    HttpApiEndpoint.get("transactions")`/wallet/${PhoneParam}/transactions`
      .setUrlParams(Schema.Struct({ limit: Schema.optional(IntFromString), cursor: Schema.optional(Schema.String) }))
      .addSuccess(TransactionsPage)
  )
  .add(
    HttpApiEndpoint.post("deposit")`/wallet/${PhoneParam}/deposit`
      .setPayload(DepositBody)
      .addSuccess(DepositResult)
      .annotate(OpenApi.Summary, "Deposit real money (staff); idempotent by reference")
  )
  .add(
    HttpApiEndpoint.post("withdraw")`/wallet/${PhoneParam}/withdraw`
      .setPayload(WithdrawBody)
      .addSuccess(WithdrawResult)
      .annotate(OpenApi.Summary, "Withdraw: credits first, then real money (manager); idempotent by reference")
  )
  .add(
    HttpApiEndpoint.post("credit")`/wallet/${PhoneParam}/virtual-credit`
      .setPayload(CreditBody)
      .addSuccess(CreditResult)
      .annotate(OpenApi.Summary, "Issue a virtual credit (manager); idempotent by reference")
  )
  .middleware(Authentication)
  .prefix("/api")
{}

/** `/api/events` and `/api/jobs/…`. @since 0.1.0 */
export class OperationsGroup extends HttpApiGroup.make("operations")
  .add(
    HttpApiEndpoint.get("events", "/events")
      .setUrlParams(Schema.Struct({ channels: Schema.optional(Schema.String) }))
      .addSuccess(HttpApiSchema.Text({ contentType: "text/event-stream" }))
      .annotate(
        OpenApi.Description,
        "Server-Sent Events of committed changes. `channels` is a comma-separated list (default " +
          "`customers,wallets`). Each message has `event:` the event type, `id:` the event id and " +
          "`data:` the event as JSON; send the last id back in `Last-Event-ID` to receive exactly the " +
          "events after it. Comment lines keep the connection alive."
      )
  )
  .add(
    HttpApiEndpoint.post("expireCredits", "/jobs/expire-credits")
      .addSuccess(ExpiryResult)
      .annotate(OpenApi.Summary, "Expire the credits due now (manager)")
  )
  .middleware(Authentication)
  .prefix("/api")
{}

/** `/health` and `/api/openapi.json`, without authentication. @since 0.1.0 */
export class SystemGroup extends HttpApiGroup.make("system")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Health))
  .add(HttpApiEndpoint.get("openapi", "/api/openapi.json").addSuccess(Schema.Unknown))
{}

/**
 * `HttpApi` documents its own decode error for every 400; this API never sends it (a body or
 * parameter that does not decode is answered as `VALIDATION_ERROR` in the error envelope), so the
 * published document leaves it out.
 */
const withoutDecodeError = (spec: Record<string, any>): Record<string, any> => {
  const isDecodeError = (s: unknown) => typeof s === "object" && s !== null && (s as { $ref?: unknown }).$ref === "#/components/schemas/HttpApiDecodeError"
  for (const path of Object.values(spec.paths ?? {}) as Array<Record<string, any>>) {
    for (const operation of Object.values(path)) {
      const response = operation?.responses?.["400"]
      const schema = response?.content?.["application/json"]?.schema
      if (schema?.anyOf !== undefined) {
        const rest = schema.anyOf.filter((s: unknown) => !isDecodeError(s))
        response.content["application/json"].schema = rest.length === 1 ? rest[0] : { anyOf: rest }
        response.description = "The request is invalid; nothing was written."
      }
    }
  }
  const schemas = spec.components?.schemas
  if (schemas !== undefined && !JSON.stringify(spec.paths).includes("HttpApiDecodeError")) {
    delete schemas.HttpApiDecodeError
    if (!JSON.stringify({ ...spec.paths, ...schemas }).includes("#/components/schemas/Issue")) delete schemas.Issue
    if (!JSON.stringify({ ...spec.paths, ...schemas }).includes("#/components/schemas/PropertyKey")) delete schemas.PropertyKey
  }
  return spec
}

/**
 * The whole API.
 *
 * @since 0.1.0
 */
export class Api extends HttpApi.make("customer360")
  .add(CustomersGroup)
  .add(WalletsGroup)
  .add(OperationsGroup)
  .add(SystemGroup)
  .addError(BadRequest)
  .addError(Forbidden)
  .addError(NotFound)
  .addError(Conflict)
  .addError(PayloadTooLarge)
  .addError(UnsupportedMediaType)
  .addError(Unprocessable)
  .addError(InternalError)
  .addError(Unavailable)
  .annotateContext(OpenApi.annotations({
    title: "customer360",
    version: "0.1.0",
    description: "Customers keyed by Vietnamese phone numbers, wallets with real money and expiring virtual credits.",
    transform: withoutDecodeError
  }))
{}
