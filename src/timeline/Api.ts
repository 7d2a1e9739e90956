/**
 * The timeline's HTTP endpoint: `GET /api/customer/:phone/timeline?cursor&limit&kinds`.
 *
 * @since 0.2.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Authentication, Instant, IntFromString, PhoneParam } from "../platform/http/HttpKit.js"
import { TimelineKind } from "./Timeline.js"

/** A timeline entry as JSON. @since 0.2.0 */
export const TimelineEntryJson = Schema.Struct({
  kind: TimelineKind,
  id: Schema.String,
  at: Instant,
  summary: Schema.String,
  data: Schema.Unknown
}).annotations({ identifier: "TimelineEntry" })

/** A page of the timeline. @since 0.2.0 */
export const TimelinePageJson = Schema.Struct({
  items: Schema.Array(TimelineEntryJson),
  nextCursor: Schema.NullOr(Schema.String)
}).annotations({ identifier: "TimelinePage" })

/** `/api/customer/:phone/timeline`. @since 0.2.0 */
export class TimelineGroup extends HttpApiGroup.make("timeline")
  .add(
    HttpApiEndpoint.get("timeline")`/customer/${PhoneParam}/timeline`
      .setUrlParams(Schema.Struct({
        cursor: Schema.optional(Schema.String),
        limit: Schema.optional(IntFromString),
        kinds: Schema.optional(Schema.String)
      }))
      .addSuccess(TimelinePageJson)
      .annotate(
        OpenApi.Summary,
        "A customer's ledger entries, transfers, ticket history, notes and activities, newest first; kinds: comma-separated"
      )
  )
  .middleware(Authentication)
  .prefix("/api")
{}
