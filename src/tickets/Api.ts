/**
 * The tickets module's HTTP endpoints (the seed's paths), each with the role it requires declared
 * once (docs/tickets.md#http): staff open, change and act on tickets; a BOOM approval or a refund
 * (money) and a cancellation are the manager's.
 *
 * @since 0.2.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Authentication, Instant, IntFromString, withRole } from "../platform/http/HttpKit.js"
import { CreditResult, DepositResult } from "../wallets/index.js"
import { Ticket, TicketAction, TicketStatus, TicketType } from "./Ticket.js"

/** A ticket as JSON: the fields of `Ticket`, instants as ISO strings. @since 0.2.0 */
export const TicketJson = Schema.Struct({
  ...Ticket.fields,
  carrierDeadline: Schema.NullOr(Instant),
  createdAt: Instant,
  updatedAt: Instant,
  completedAt: Schema.NullOr(Instant),
  escalatedAt: Schema.NullOr(Instant)
}).annotations({ identifier: "Ticket" })

/** A ticket's history entry as JSON. @since 0.2.0 */
export const TicketActionJson = Schema.Struct({ ...TicketAction.fields, at: Instant }).annotations({
  identifier: "TicketAction"
})

/** A ticket with its history, oldest first. @since 0.2.0 */
export const TicketDetailsJson = Schema.Struct({
  ...TicketJson.fields,
  history: Schema.Array(TicketActionJson)
}).annotations({ identifier: "TicketDetails" })

/** What an action did (see `TicketActionResult`). @since 0.2.0 */
export const TicketActionResultJson = Schema.Struct({
  ticket: TicketJson,
  action: TicketActionJson,
  credit: Schema.NullOr(CreditResult),
  deposit: Schema.NullOr(DepositResult),
  repeated: Schema.Boolean
}).annotations({ identifier: "TicketActionResult" })

/** A page of tickets, newest first. @since 0.2.0 */
export const TicketPageJson = Schema.Struct({
  items: Schema.Array(TicketJson),
  total: Schema.Int,
  page: Schema.Int,
  limit: Schema.Int
}).annotations({ identifier: "TicketPage" })

/** Body of `POST /api/ticket`. @since 0.2.0 */
export const CreateTicketBody = Schema.Struct({
  phone: Schema.String,
  type: Schema.String,
  priority: Schema.optional(Schema.String),
  orderReference: Schema.optional(Schema.NullOr(Schema.String)),
  amount: Schema.optional(Schema.NullOr(Schema.Number)),
  carrier: Schema.optional(Schema.NullOr(Schema.String)),
  carrierDeadline: Schema.optional(Schema.NullOr(Schema.String)),
  assignee: Schema.optional(Schema.NullOr(Schema.String)),
  note: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "CreateTicketBody" })

/** Body of `PUT /api/ticket/:code`. @since 0.2.0 */
export const UpdateTicketBody = Schema.Struct({
  assignee: Schema.optional(Schema.NullOr(Schema.String)),
  priority: Schema.optional(Schema.String),
  carrier: Schema.optional(Schema.NullOr(Schema.String)),
  carrierDeadline: Schema.optional(Schema.NullOr(Schema.String)),
  orderReference: Schema.optional(Schema.NullOr(Schema.String))
}).annotations({ identifier: "UpdateTicketBody" })

/**
 * Body of `POST /api/ticket/:code/action`: `{ action: "transition", to }`, `{ action:
 * "approve_boom", amount? }`, `{ action: "refund", amount }`, `{ action: "exchange", note? }` or
 * `{ action: "note", text }` (validated by the service).
 *
 * @since 0.2.0
 */
export const TicketActionBody = Schema.Struct({
  action: Schema.String,
  to: Schema.optional(Schema.String),
  amount: Schema.optional(Schema.Number),
  note: Schema.optional(Schema.String),
  text: Schema.optional(Schema.String)
}).annotations({ identifier: "TicketActionBody" })

/** A ticket code in a path. @since 0.2.0 */
export const CodeParam = HttpApiSchema.param("code", Schema.String.annotations({ description: "a ticket code (TV-YYYY-NNNNN)" }))

/** `/api/ticket…`, `/api/tickets`, `/api/jobs/ticket-deadlines`. @since 0.2.0 */
export class TicketsGroup extends HttpApiGroup.make("tickets")
  .add(
    HttpApiEndpoint.post("create", "/ticket")
      .setPayload(CreateTicketBody)
      .addSuccess(TicketDetailsJson, { status: 201 })
      .pipe(withRole("staff", "Open a ticket for a phone (the customer is created if new)"))
  )
  .add(
    HttpApiEndpoint.get("list", "/tickets")
      .setUrlParams(Schema.Struct({
        status: Schema.optional(TicketStatus),
        type: Schema.optional(TicketType),
        phone: Schema.optional(Schema.String),
        page: Schema.optional(IntFromString),
        limit: Schema.optional(IntFromString)
      }))
      .addSuccess(TicketPageJson)
      .annotate(OpenApi.Summary, "Tickets, newest first, by status, type and phone")
  )
  .add(
    HttpApiEndpoint.get("get")`/ticket/${CodeParam}`
      .addSuccess(TicketDetailsJson)
      .annotate(OpenApi.Summary, "A ticket and its history")
  )
  .add(
    HttpApiEndpoint.put("update")`/ticket/${CodeParam}`
      .setPayload(UpdateTicketBody)
      .addSuccess(TicketJson)
      .pipe(withRole("staff", "Change assignee, priority, carrier, carrier deadline or order reference"))
  )
  .add(
    HttpApiEndpoint.del("cancel")`/ticket/${CodeParam}`
      .addSuccess(TicketJson)
      .pipe(withRole("manager", "Cancel a ticket (a completed ticket cannot be cancelled)"))
  )
  .add(
    HttpApiEndpoint.post("act")`/ticket/${CodeParam}/action`
      .setPayload(TicketActionBody)
      .addSuccess(TicketActionResultJson)
      .pipe(withRole("staff", "A transition, a note, or a special action (approve_boom and refund need manager)"))
  )
  .add(
    HttpApiEndpoint.post("escalateDeadlines", "/jobs/ticket-deadlines")
      .addSuccess(Schema.Struct({ escalated: Schema.Int }))
      .pipe(withRole("manager", "Raise the priority of tickets whose carrier deadline is less than 24 hours away"))
  )
  .middleware(Authentication)
  .prefix("/api")
{}

