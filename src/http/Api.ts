/**
 * The HTTP API of the library, composed from every module's group (the registry, `src/modules.ts`)
 * and declared once with `@effect/platform` `HttpApi` and Schema. Every
 * host serves this declaration (Express through `NodeHttpServer.makeHandler`, a Cloudflare Worker
 * through `HttpApiBuilder.toWebHandler`), and its OpenAPI document is generated from it.
 *
 * Conventions, the same on every endpoint:
 * - Paths live under `/api`, except `GET /health`.
 * - A request body is JSON (`content-type: application/json`), at most 64 KiB.
 * - Every failure is `{ "error": { "code", "message", "details"? } }` with the status of its code
 *   (see {@link ErrorCode}); no stack trace or driver message is ever sent.
 * - Authentication is a bearer token (roles declared once per endpoint, see `withRole`); each token has a {@link Role}: `viewer` reads, `staff` also
 *   creates and edits customers and deposits, `manager` also deletes customers and changes their
 *   status, withdraws, issues credits and runs jobs.
 * - A body must be UTF-8 JSON nested at most 64 levels deep (else `VALIDATION_ERROR`, before any
 *   handler runs).
 * - Amounts are integer đồng (JSON numbers); instants are ISO-8601 UTC strings.
 *
 * @since 0.1.0
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { CustomerJson } from "../customers/Api.js"
import * as Registry from "../modules.js"
import { Authentication, PhoneParam, withErrors } from "../platform/http/HttpKit.js"
import { TransactionsPage } from "../wallets/Api.js"
import { WalletView } from "../wallets/Wallet.js"
import { ActivityJson, NoteJson } from "../notes/Api.js"
import { TicketJson } from "../tickets/Api.js"
import { TransferJson } from "../transfers/Api.js"
import { MembershipJson, PurchaseJson, RfmJson } from "../purchases/Api.js"
import { FraudDecisionJson, FraudFlagJson } from "../fraud/Api.js"

export type { ApiError, ErrorCode, RolePolicy } from "../platform/http/HttpKit.js"
export {
  Authentication,
  BadRequest,
  Conflict,
  errorStatus,
  FieldRoles,
  Forbidden,
  InternalError,
  NotFound,
  PayloadTooLarge,
  Principal,
  RequiredRole,
  Role,
  Unauthorized,
  Unavailable,
  Unprocessable,
  UnsupportedMediaType,
  withRole
} from "../platform/http/HttpKit.js"
export { CustomerJson, CustomerPage, CustomersGroup } from "../customers/Api.js"
export { CreditBody, DepositBody, ExpiryResult, TransactionsPage, WalletsGroup, WithdrawBody } from "../wallets/Api.js"
export { ActivityJson, NoteBody, NoteJson, NotesGroup } from "../notes/Api.js"
export {
  CreateTicketBody,
  TicketActionBody,
  TicketActionResultJson,
  TicketDetailsJson,
  TicketJson,
  TicketPageJson,
  TicketsGroup,
  UpdateTicketBody
} from "../tickets/Api.js"
export { LinkBody, LinkedJson, ResolveBody, TransferJson, TransferPageJson, TransfersGroup } from "../transfers/Api.js"
export { TimelineEntryJson, TimelineGroup, TimelinePageJson } from "../timeline/Api.js"
export {
  MembershipJson,
  PurchaseBody,
  PurchaseDetailsJson,
  PurchaseJson,
  PurchaseResultJson,
  PurchasesGroup,
  ReturnBody,
  ReturnResultJson,
  RfmJson
} from "../purchases/Api.js"
export { BacktestBody, CustomerFraudJson, FraudDecisionJson, FraudFlagJson, FraudGroup, RunReportJson } from "../fraud/Api.js"
export { StatsGroup } from "../stats/Api.js"

/** The 360 view of one customer: the profile and every module's part. @since 0.1.0 */
export const CustomerView = Schema.Struct({
  customer: CustomerJson,
  wallet: WalletView,
  transactions: TransactionsPage,
  notes: Schema.Struct({ items: Schema.Array(NoteJson), nextCursor: Schema.NullOr(Schema.String) }),
  activities: Schema.Struct({ items: Schema.Array(ActivityJson), nextCursor: Schema.NullOr(Schema.String) }),
  tickets: Schema.Array(TicketJson),
  transfers: Schema.Array(TransferJson),
  rfm: Schema.NullOr(RfmJson),
  membership: MembershipJson,
  purchases: Schema.Array(PurchaseJson),
  fraud: Schema.Struct({ flags: Schema.Array(FraudFlagJson), decisions: Schema.Array(FraudDecisionJson) })
}).annotations({ identifier: "CustomerView" })

/** Body of `GET /health`. @since 0.1.0 */
export const Health = Schema.Struct({ status: Schema.Literal("ok"), database: Schema.Literal("ok") })

/** `/api/customer/:phone`: the 360 view, composed of every module's part. @since 0.1.0 */
export class ViewGroup extends HttpApiGroup.make("view")
  .add(
    HttpApiEndpoint.get("view")`/customer/${PhoneParam}`
      .addSuccess(CustomerView)
      .annotate(
        OpenApi.Summary,
        "The 360 view of a customer: profile, wallet, latest transactions, tickets, notes, activities, transfers, RFM, membership, purchases, fraud flags"
      )
  )
  .middleware(Authentication)
  .prefix("/api")
{}

/** `/api/events`. @since 0.1.0 */
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

/** Every module's group, in the registry's order. */
const modulesApi = Registry.groups.reduce(
  (api: HttpApi.HttpApi.Any, group) => (api as HttpApi.HttpApi<"customer360", never>).add(group),
  HttpApi.make("customer360")
) as unknown as HttpApi.HttpApi<"customer360", Registry.ModuleGroups>

/**
 * The whole API: every module's group (the registry), the 360 view, events and system endpoints,
 * with the shared error responses.
 *
 * @since 0.1.0
 */
export class Api extends withErrors(modulesApi.add(ViewGroup).add(OperationsGroup).add(SystemGroup))
  .annotateContext(OpenApi.annotations({
    title: "customer360",
    version: "0.1.0",
    description: "Customers keyed by Vietnamese phone numbers, wallets with real money and expiring virtual credits.",
    transform: withoutDecodeError
  }))
{}
