/**
 * The notes module's HTTP endpoints: `POST /api/customer/:phone/notes` (staff),
 * `GET /api/customer/:phone/notes` and `GET /api/customer/:phone/activities` (docs/timeline.md).
 *
 * @since 0.2.0
 */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Schema from "effect/Schema"
import { Authentication, Instant, IntFromString, PhoneParam, withRole } from "../platform/http/HttpKit.js"

/** A note as JSON. @since 0.2.0 */
export const NoteJson = Schema.Struct({
  id: Schema.String,
  customerId: Schema.String,
  author: Schema.String,
  text: Schema.String,
  createdAt: Instant
}).annotations({ identifier: "Note" })

/** An activity as JSON. @since 0.2.0 */
export const ActivityJson = Schema.Struct({
  id: Schema.String,
  customerId: Schema.String,
  actor: Schema.String,
  kind: Schema.String,
  subjectType: Schema.String,
  subjectId: Schema.String,
  summary: Schema.String,
  data: Schema.Unknown,
  at: Instant
}).annotations({ identifier: "Activity" })

/** Body of `POST /api/customer/:phone/notes`: the text and, optionally, the author. @since 0.2.0 */
export const NoteBody = Schema.Struct({
  text: Schema.String,
  author: Schema.optional(Schema.String)
}).annotations({ identifier: "NoteBody" })

const PageParams = Schema.Struct({ limit: Schema.optional(IntFromString), cursor: Schema.optional(Schema.String) })

/** `/api/customer/:phone/notes`, `/api/customer/:phone/activities`. @since 0.2.0 */
export class NotesGroup extends HttpApiGroup.make("notes")
  .add(
    HttpApiEndpoint.post("add")`/customer/${PhoneParam}/notes`
      .setPayload(NoteBody)
      .addSuccess(NoteJson, { status: 201 })
      .pipe(withRole("staff", "Add a note to a customer (notes are never edited; a correction is a new note)"))
  )
  .add(
    HttpApiEndpoint.get("list")`/customer/${PhoneParam}/notes`
      .setUrlParams(PageParams)
      .addSuccess(Schema.Struct({ items: Schema.Array(NoteJson), nextCursor: Schema.NullOr(Schema.String) }))
      .annotate(OpenApi.Summary, "A customer's notes, newest first")
  )
  .add(
    HttpApiEndpoint.get("activities")`/customer/${PhoneParam}/activities`
      .setUrlParams(Schema.Struct({ ...PageParams.fields, kinds: Schema.optional(Schema.String) }))
      .addSuccess(Schema.Struct({ items: Schema.Array(ActivityJson), nextCursor: Schema.NullOr(Schema.String) }))
      .annotate(OpenApi.Summary, "A customer's activities, newest first; kinds: comma-separated")
  )
  .middleware(Authentication)
  .prefix("/api")
{}
