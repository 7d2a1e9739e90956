/**
 * The purchases module's HTTP endpoints (docs/purchases.md#http): staff record purchases and
 * returns; anyone with a token reads a customer's purchases, points, membership and RFM; a
 * recomputation of every customer's RFM is the manager's.
 *
 * @since 0.3.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Authentication, Instant, IntFromString, PhoneParam, withRole } from "../platform/http/HttpKit.js"
import { Purchase, PurchaseReturn } from "./Purchase.js"

/** A purchase as JSON: instants as ISO strings. @since 0.3.0 */
export const PurchaseJson = Schema.Struct({ ...Purchase.fields, at: Instant, createdAt: Instant }).annotations({
  identifier: "Purchase"
})

/** A return as JSON. @since 0.3.0 */
export const ReturnJson = Schema.Struct({ ...PurchaseReturn.fields, at: Instant }).annotations({ identifier: "PurchaseReturn" })

const ChangeJson = Schema.NullOr(Schema.Struct({ from: Schema.String, to: Schema.String }))

/** The customer's figures after a purchase or a return. @since 0.3.0 */
export const CustomerFiguresJson = Schema.Struct({
  id: Schema.String,
  phone: Schema.NullOr(Schema.String),
  totalOrders: Schema.Int,
  totalSpent: Schema.Int,
  points: Schema.Int,
  membershipLevel: Schema.String,
  tier: Schema.String,
  lastPurchaseAt: Schema.NullOr(Instant)
}).annotations({ identifier: "CustomerFigures" })

/** What `POST /api/purchases` did. @since 0.3.0 */
export const PurchaseResultJson = Schema.Struct({
  purchase: PurchaseJson,
  customer: CustomerFiguresJson,
  repeated: Schema.Boolean,
  levelChanged: ChangeJson,
  tierChanged: ChangeJson
}).annotations({ identifier: "PurchaseResult" })

/** What `POST /api/purchases/:reference/returns` did. @since 0.3.0 */
export const ReturnResultJson = Schema.Struct({
  return: ReturnJson,
  purchase: PurchaseJson,
  customer: CustomerFiguresJson,
  repeated: Schema.Boolean,
  levelChanged: ChangeJson,
  tierChanged: ChangeJson
}).annotations({ identifier: "ReturnResult" })

/** A purchase with its returns. @since 0.3.0 */
export const PurchaseDetailsJson = Schema.Struct({ ...PurchaseJson.fields, returns: Schema.Array(ReturnJson) }).annotations({
  identifier: "PurchaseDetails"
})

/** A page of purchases, newest first. @since 0.3.0 */
export const PurchasePageJson = Schema.Struct({
  items: Schema.Array(PurchaseJson),
  total: Schema.Int,
  page: Schema.Int,
  limit: Schema.Int
}).annotations({ identifier: "PurchasePage" })

/** A customer's points balance and history. @since 0.3.0 */
export const PointsJson = Schema.Struct({
  balance: Schema.Int,
  history: Schema.Array(Schema.Struct({
    kind: Schema.Literal("earned", "taken_back"),
    points: Schema.Int,
    reference: Schema.String,
    purchaseReference: Schema.String,
    amount: Schema.Int,
    at: Instant
  }))
}).annotations({ identifier: "Points" })

/** A customer's membership. @since 0.3.0 */
export const MembershipJson = Schema.Struct({
  level: Schema.String,
  discount: Schema.Int,
  totalSpent: Schema.Int,
  points: Schema.Int,
  nextLevel: Schema.NullOr(Schema.String),
  toNextLevel: Schema.NullOr(Schema.Int)
}).annotations({ identifier: "Membership" })

/** A customer's RFM as of now (see `RfmView`). @since 0.3.0 */
export const RfmJson = Schema.Struct({
  customerId: Schema.String,
  recencyDays: Schema.NullOr(Schema.Int),
  frequency: Schema.Int,
  monetary: Schema.Int,
  r: Schema.Int,
  f: Schema.Int,
  m: Schema.Int,
  score: Schema.Number,
  tier: Schema.String,
  segment: Schema.String,
  explanation: Schema.Array(Schema.String),
  mode: Schema.Literal("fixed", "quantile"),
  scoredAt: Schema.NullOr(Instant)
}).annotations({ identifier: "Rfm" })

/** What `POST /api/jobs/rfm` did. @since 0.3.0 */
export const RecomputeJson = Schema.Struct({ customers: Schema.Int, changed: Schema.Int, batches: Schema.Int }).annotations({
  identifier: "RfmRecompute"
})

const Item = Schema.Struct({
  productId: Schema.String,
  name: Schema.String,
  quantity: Schema.Number,
  unitPrice: Schema.Number
})

/** Body of `POST /api/purchases` (validated by the service). @since 0.3.0 */
export const PurchaseBody = Schema.Struct({
  phone: Schema.optional(Schema.String),
  customerId: Schema.optional(Schema.String),
  amount: Schema.Number,
  reference: Schema.String,
  at: Schema.optional(Schema.String),
  shopId: Schema.optional(Schema.NullOr(Schema.String)),
  items: Schema.optional(Schema.Array(Item))
}).annotations({ identifier: "PurchaseBody" })

/** Body of `POST /api/purchases/:reference/returns`. @since 0.3.0 */
export const ReturnBody = Schema.Struct({
  amount: Schema.optional(Schema.Number),
  reference: Schema.String,
  at: Schema.optional(Schema.String)
}).annotations({ identifier: "ReturnBody" })

/** A purchase reference in a path. @since 0.3.0 */
export const ReferenceParam = HttpApiSchema.param("reference", Schema.String.annotations({ description: "a purchase's reference" }))

/**
 * `/api/purchases…`, `/api/customer/:phone/{purchases,points,membership,rfm}`, `/api/jobs/rfm`.
 *
 * @since 0.3.0
 */
export class PurchasesGroup extends HttpApiGroup.make("purchases")
  .add(
    HttpApiEndpoint.post("record", "/purchases")
      .setPayload(PurchaseBody)
      .addSuccess(PurchaseResultJson, { status: 201 })
      .pipe(withRole("staff", "Record a purchase; idempotent by reference (a repeat answers the first result)"))
  )
  .add(
    HttpApiEndpoint.post("recordReturn")`/purchases/${ReferenceParam}/returns`
      .setPayload(ReturnBody)
      .addSuccess(ReturnResultJson, { status: 201 })
      .pipe(withRole("staff", "Record a return of a purchase (never more than is left of it); idempotent by reference"))
  )
  .add(
    HttpApiEndpoint.get("get")`/purchases/${ReferenceParam}`
      .addSuccess(PurchaseDetailsJson)
      .annotate(OpenApi.Summary, "A purchase and its returns")
  )
  .add(
    HttpApiEndpoint.get("list")`/customer/${PhoneParam}/purchases`
      .setUrlParams(Schema.Struct({ page: Schema.optional(IntFromString), limit: Schema.optional(IntFromString) }))
      .addSuccess(PurchasePageJson)
      .annotate(OpenApi.Summary, "A customer's purchases, newest first")
  )
  .add(
    HttpApiEndpoint.get("points")`/customer/${PhoneParam}/points`
      .setUrlParams(Schema.Struct({ limit: Schema.optional(IntFromString) }))
      .addSuccess(PointsJson)
      .annotate(OpenApi.Summary, "A customer's points balance and history")
  )
  .add(
    HttpApiEndpoint.get("membership")`/customer/${PhoneParam}/membership`
      .addSuccess(MembershipJson)
      .annotate(OpenApi.Summary, "A customer's membership level, discount and the next level")
  )
  .add(
    HttpApiEndpoint.get("rfm")`/customer/${PhoneParam}/rfm`
      .addSuccess(RfmJson)
      .annotate(OpenApi.Summary, "A customer's RFM scores, tier and segment as of now, with the reasons")
  )
  .add(
    HttpApiEndpoint.post("recompute", "/jobs/rfm")
      .addSuccess(RecomputeJson)
      .pipe(withRole("manager", "Recompute every customer's RFM scores and tier, in batches"))
  )
  .middleware(Authentication)
  .prefix("/api")
{}
