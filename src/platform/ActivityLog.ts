/**
 * The activity log's port (DOMAIN §4a): every change a person or a job makes to a customer's world
 * — a profile edit, a ticket action, a transfer linked — is recorded as one activity, written in the
 * unit of work of the change itself, so an activity exists if and only if its change committed. The
 * notes module owns the table and provides the implementation; any module records through this port.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type { StorageError } from "../kernel/Errors.js"

/**
 * One activity: who (`actor`: a staff id, a user id, or `job:<name>` / `system:<source>`), what
 * (`kind`, e.g. `ticket.transition`), about which thing (`subjectType`, `subjectId`), a one-line
 * `summary` a person can read, and structured `data` (plain JSON).
 *
 * @since 0.2.0
 */
export interface Activity {
  readonly customerId: string
  readonly actor: string
  readonly kind: string
  readonly subjectType: string
  readonly subjectId: string
  readonly summary: string
  readonly data?: Readonly<Record<string, unknown>> | undefined
  readonly at: Date
}

/**
 * Records activities in the current unit of work (the caller's transaction, or one of its own). An
 * activity of a customer that does not exist (any more, or yet, in a deferred batch that failed) is
 * not written: the write is guarded by the customer's row, never by a read before it.
 *
 * @since 0.2.0
 */
export class ActivityLog extends Context.Tag("customer360/ActivityLog")<ActivityLog, {
  readonly record: (activities: ReadonlyArray<Activity>) => Effect.Effect<void, StorageError>
}>() {}

/**
 * Who acts when a caller names nobody: `system`.
 *
 * @since 0.2.0
 */
export const SYSTEM_ACTOR = "system"
