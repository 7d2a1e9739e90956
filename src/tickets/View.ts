/**
 * The tickets module's part of the 360 view: the customer's latest tickets.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import { asPartFailure, type Customer, type ViewPart } from "../customers/index.js"
import type { Ticket } from "./Ticket.js"
import { Tickets } from "./Tickets.js"

declare module "../customers/View360.js" {
  interface View360Parts {
    /** The 10 latest tickets, newest first. */
    readonly tickets: ReadonlyArray<Ticket>
  }
}

/** The tickets part of the view. @since 0.2.0 */
export const viewParts: Effect.Effect<ReadonlyArray<ViewPart>, never, Tickets> = Effect.map(Tickets, (tickets) => [
  { name: "tickets", load: (c: Customer) => asPartFailure("reading the tickets of a 360 view")(tickets.recentForCustomer(c.id, 10)) }
])
