/**
 * The tickets module's job: the carrier-deadline check (DOMAIN §4, docs/jobs.md).
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type { ScheduledJob } from "../platform/ScheduledJob.js"
import { Tickets } from "./Tickets.js"

/** Every 6 hours, in the configured time zone. @since 0.2.0 */
export const ticketDeadlinesCron = "0 */6 * * *"

/** Options of the deadline job: tickets per transaction (default 200), batches per run (default: all). @since 0.2.0 */
export interface DeadlineJobOptions {
  readonly batchSize?: number | undefined
  readonly maxBatches?: number | undefined
}

/**
 * `ticket-deadlines`: `Tickets.escalateDeadlines` at the configured clock's now; counts `escalated`.
 *
 * @since 0.2.0
 */
export const ticketDeadlines: ScheduledJob<"ticket-deadlines", DeadlineJobOptions | undefined, Tickets> = {
  name: "ticket-deadlines",
  cron: ticketDeadlinesCron,
  run: (options) => Effect.flatMap(Tickets, (tickets) => tickets.escalateDeadlines(options ?? {}))
}
