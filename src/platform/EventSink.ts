/**
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { StoredEvent } from "../kernel/Events.js"

/**
 * Why a sink did not take a batch:
 * - `unreachable`: the destination could not be reached (network, DNS, refused connection);
 * - `timeout`: it did not answer in time;
 * - `rejected`: it answered, but not with success (`status` says what);
 * - `unexpected`: anything else.
 *
 * @since 0.1.0
 */
export const EventDeliveryFailedReason = Schema.Literal("unreachable", "timeout", "rejected", "unexpected")

/**
 * A sink did not take a batch of events. The relay's position does not move: the batch is
 * delivered again on the next run.
 *
 * @since 0.1.0
 */
export class EventDeliveryFailed extends Schema.TaggedError<EventDeliveryFailed>()("EventDeliveryFailed", {
  reason: EventDeliveryFailedReason,
  destination: Schema.String,
  status: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    const why = {
      unreachable: "could not be reached",
      timeout: "did not answer in time",
      rejected: `answered ${this.status ?? "with an error"}`,
      unexpected: "failed unexpectedly"
    }[this.reason]
    return `Delivering events to ${this.destination}: the destination ${why}`
  }
}

/**
 * Where a relay job hands the outbox's events, one batch at a time, in delivery order. Delivery is
 * at least once: a batch that failed, or whose success was not recorded before a crash, is handed
 * over again, so a sink (or what is behind it) de-duplicates by event `id`. Succeeding means the
 * whole batch was taken.
 *
 * @since 0.1.0
 */
export interface EventSinkShape {
  readonly deliver: (events: ReadonlyArray<StoredEvent>) => Effect.Effect<void, EventDeliveryFailed>
}

/** The EventSink service. @since 0.1.0 */
export class EventSink extends Context.Tag("customer360/EventSink")<EventSink, EventSinkShape>() {}
