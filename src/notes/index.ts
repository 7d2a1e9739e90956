/**
 * The notes module (DOMAIN §4a, docs/timeline.md): notes on a customer and the activity log. What
 * other modules may use of it.
 *
 * @since 0.2.0
 */
export { ActivityRecord, Note, type Page } from "./Note.js"
export { Notes, pageOf } from "./Notes.js"
