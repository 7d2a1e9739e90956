/**
 * The transfers module's HTTP endpoints (the seed's paths, docs/transfers.md#http): SePay's webhook
 * (`POST /api/webhooks/sepay`, authenticated by its API key, not by a bearer token), the staff lists
 * and links of `/api/balance-history…`, and a customer's payment QR.
 *
 * @since 0.2.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Authentication, Instant, IntFromString, PhoneParam, Unauthorized, withRole } from "../platform/http/HttpKit.js"
import { DepositResult } from "../wallets/index.js"
import { Match } from "./Transfer.js"

/**
 * A transfer as JSON: `{ id, provider, providerId, amount, content, transactionDate, status,
 * customerId, match: { by, reason, candidates, explanation }, … }`.
 *
 * @since 0.2.0
 */
export const TransferJson = Schema.Struct({
  id: Schema.String,
  provider: Schema.String,
  providerId: Schema.String,
  gateway: Schema.String,
  accountNumber: Schema.String,
  transferType: Schema.Literal("in", "out"),
  amount: Schema.Int,
  content: Schema.String,
  referenceCode: Schema.NullOr(Schema.String),
  transactionDate: Instant,
  status: Schema.String,
  customerId: Schema.NullOr(Schema.String),
  match: Match,
  depositTransactionId: Schema.NullOr(Schema.String)
}).annotations({ identifier: "BankTransfer" })

/** A page of transfers, newest first. @since 0.2.0 */
export const TransferPageJson = Schema.Struct({
  items: Schema.Array(TransferJson),
  total: Schema.Int,
  page: Schema.Int,
  limit: Schema.Int
}).annotations({ identifier: "TransferPage" })

/** What a link did. @since 0.2.0 */
export const LinkedJson = Schema.Struct({ transfer: TransferJson, deposit: Schema.NullOr(DepositResult) }).annotations({
  identifier: "LinkedTransfer"
})

/** Body of `POST /api/balance-history/link-customer`. @since 0.2.0 */
export const LinkBody = Schema.Struct({
  transactionId: Schema.String,
  phone: Schema.String,
  autoDeposit: Schema.optional(Schema.Boolean)
}).annotations({ identifier: "LinkBody" })

/** Body of `POST /api/balance-history/pending/:id/resolve`: `phone` or `customerId`. @since 0.2.0 */
export const ResolveBody = Schema.Struct({
  phone: Schema.optional(Schema.String),
  customerId: Schema.optional(Schema.String),
  autoDeposit: Schema.optional(Schema.Boolean)
}).annotations({ identifier: "ResolveBody" })

const TransferId = HttpApiSchema.param("id", Schema.String.annotations({ description: "a transfer id (trf_…)" }))
const PageParams = Schema.Struct({ page: Schema.optional(IntFromString), limit: Schema.optional(IntFromString) })

/** `/api/webhooks/sepay`, `/api/balance-history…`, `/api/customer/:phone/qr`. @since 0.2.0 */
export class TransfersGroup extends HttpApiGroup.make("transfers")
  .add(
    HttpApiEndpoint.post("sepay", "/webhooks/sepay")
      .setHeaders(Schema.Struct({ authorization: Schema.optional(Schema.String) }))
      .setPayload(Schema.Unknown)
      .addSuccess(Schema.Struct({ success: Schema.Literal(true) }))
      .addError(Unauthorized)
      .annotate(OpenApi.Summary, "SePay's webhook: Authorization: Apikey <key>; idempotent by SePay's id")
  )
  .add(
    HttpApiEndpoint.get("unlinked", "/balance-history/unlinked")
      .setUrlParams(PageParams)
      .addSuccess(TransferPageJson)
      .middleware(Authentication)
      .annotate(OpenApi.Summary, "Transfers not linked to a customer, newest first")
  )
  .add(
    HttpApiEndpoint.get("pending", "/balance-history/pending")
      .setUrlParams(PageParams)
      .addSuccess(TransferPageJson)
      .middleware(Authentication)
      .annotate(OpenApi.Summary, "Incoming transfers waiting for staff, with their candidates")
  )
  .add(
    HttpApiEndpoint.get("get")`/balance-history/${TransferId}`
      .addSuccess(TransferJson)
      .middleware(Authentication)
      .annotate(OpenApi.Summary, "A transfer and how it was matched")
  )
  .add(
    HttpApiEndpoint.post("link", "/balance-history/link-customer")
      .setPayload(LinkBody)
      .addSuccess(LinkedJson)
      .middleware(Authentication)
      .pipe(withRole("staff", "Link an unlinked transfer to a phone's customer; autoDeposit deposits it (once)"))
  )
  .add(
    HttpApiEndpoint.post("resolve")`/balance-history/pending/${TransferId}/resolve`
      .setPayload(ResolveBody)
      .addSuccess(LinkedJson)
      .middleware(Authentication)
      .pipe(withRole("staff", "Resolve a pending transfer to a candidate or a phone"))
  )
  .add(
    HttpApiEndpoint.get("qr")`/customer/${PhoneParam}/qr`
      .setUrlParams(Schema.Struct({ amount: Schema.optional(IntFromString) }))
      .addSuccess(Schema.Struct({ code: Schema.String, payload: Schema.NullOr(Schema.String) }))
      .middleware(Authentication)
      .annotate(OpenApi.Summary, "The customer's payment code and the VietQR payload that carries it")
  )
  .prefix("/api")
{}
