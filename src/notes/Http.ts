/**
 * The notes module's handlers.
 *
 * @since 0.2.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { actor, apiOf, authorized, domain } from "../platform/http/HttpKit.js"
import { NotesGroup } from "./Api.js"
import { Notes } from "./Notes.js"

const role = (endpoint: string) => authorized(NotesGroup, endpoint)

/** The handlers of {@link NotesGroup}, over the `Notes` service. @since 0.2.0 */
export const layer = HttpApiBuilder.group(apiOf(NotesGroup), "notes", (handlers) =>
  Effect.gen(function*() {
    const notes = yield* Notes
    return handlers
      .handle("add", ({ path, payload }) =>
        role("add")(Effect.flatMap(actor, (who) => domain(notes.add(path.phone, payload, { actor: who })))))
      .handle("list", ({ path, urlParams }) => domain(notes.list(path.phone, urlParams)))
      .handle("activities", ({ path, urlParams }) =>
        domain(notes.activities(path.phone, {
          ...(urlParams.limit === undefined ? {} : { limit: urlParams.limit }),
          ...(urlParams.cursor === undefined ? {} : { cursor: urlParams.cursor }),
          ...(urlParams.kinds === undefined ? {} : { kinds: urlParams.kinds.split(",").map((k) => k.trim()).filter((k) => k !== "") })
        })))
  }))
