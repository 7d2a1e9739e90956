/**
 * The notes module's parts of the 360 view: the latest notes and activities.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import { asPartFailure, type Customer, type ViewPart } from "../customers/index.js"
import type { ActivityRecord, Note, Page } from "./Note.js"
import { Notes } from "./Notes.js"

declare module "../customers/View360.js" {
  interface View360Parts {
    /** The 10 latest notes, newest first. */
    readonly notes: Page<Note>
    /** The 20 latest activities, newest first. */
    readonly activities: Page<ActivityRecord>
  }
}

const asStorage = asPartFailure

/** The notes parts of the view, over the `Notes` service. @since 0.2.0 */
export const viewParts: Effect.Effect<ReadonlyArray<ViewPart>, never, Notes> = Effect.map(Notes, (notes) => [
  { name: "notes", load: (c: Customer) => asStorage("reading the notes of a 360 view")(notes.list(c.phone ?? "", { limit: 10 })) },
  {
    name: "activities",
    load: (c: Customer) => asStorage("reading the activities of a 360 view")(notes.activities(c.phone ?? "", { limit: 20 }))
  }
])
