/**
 * The customers module's HTTP endpoints (`/api/customers…`), each with the role it requires
 * declared once (docs/customers.md#roles-over-http): staff create and edit customers; a customer's
 * `status` (soft delete, block, restore) is the manager's, through `DELETE` or a `PUT` with a
 * `status` field.
 *
 * @since 0.1.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Authentication, IdParam, Instant, IntFromString, withRole } from "../platform/http/HttpKit.js"
import { CreateCustomerInput, Customer, CustomerPatch } from "./Customer.js"
import { MergeInput } from "./Merge.js"

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

/** The body of `POST /api/customers/merge`: `dryRun` is true unless `false` is given. @since 0.4.0 */
export const MergeBody = MergeInput.omit("actor").annotations({ identifier: "MergeBody" })

/** What `POST /api/customers/merge` answers: the `MergeResult`, the survivor as {@link CustomerJson}. @since 0.4.0 */
export const MergeResultJson = Schema.Struct({
  mergeId: Schema.NullOr(Schema.String),
  dryRun: Schema.Boolean,
  repeated: Schema.Boolean,
  survivorId: Schema.String,
  mergedIds: Schema.Array(Schema.String),
  alreadyMerged: Schema.Array(Schema.String),
  fields: Schema.Array(Schema.Struct({
    customerId: Schema.String,
    field: Schema.String,
    before: Schema.Unknown,
    after: Schema.Unknown
  })),
  moved: Schema.Array(Schema.Struct({
    customerId: Schema.String,
    parts: Schema.Record({ key: Schema.String, value: Schema.Unknown })
  })),
  survivor: CustomerJson
}).annotations({ identifier: "MergeResult" })

/** `/api/customers…`. @since 0.1.0 */
export class CustomersGroup extends HttpApiGroup.make("customers")
  .add(
    HttpApiEndpoint.post("create", "/customers")
      .setPayload(Schema.encodedSchema(CreateCustomerInput))
      .addSuccess(CustomerJson, { status: 201 })
      .pipe(withRole("staff", "Create a customer"))
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
    HttpApiEndpoint.post("merge", "/customers/merge")
      .setPayload(Schema.encodedSchema(MergeBody))
      .addSuccess(MergeResultJson)
      .pipe(withRole("manager", "Merge duplicate profiles into a survivor; a dry run (writes nothing) unless dryRun is false"))
  )
  .add(
    HttpApiEndpoint.put("update")`/customers/${IdParam}`
      .setPayload(Schema.encodedSchema(CustomerPatch))
      .addSuccess(CustomerJson)
      .pipe(withRole("staff", "Update a customer", { fields: { status: "manager" } }))
  )
  .add(
    HttpApiEndpoint.del("delete")`/customers/${IdParam}`
      .addSuccess(CustomerJson)
      .pipe(withRole("manager", "Soft-delete a customer: status becomes inactive"))
  )
  .middleware(Authentication)
  .prefix("/api")
{}
