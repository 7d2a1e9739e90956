/**
 * The timeline module (DOMAIN §4a, docs/timeline.md): a customer's records of every module as one
 * stream, newest first.
 *
 * @since 0.2.0
 */
export { Timeline, type TimelineEntry, TimelineKind, type TimelineOptions, type TimelinePage } from "./Timeline.js"
