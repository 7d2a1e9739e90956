/**
 * The transfers module's part of the 360 view: the customer's latest linked bank transfers and
 * payment code.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import { asPartFailure, type Customer, type ViewPart } from "../customers/index.js"
import type { BankTransfer } from "./Transfer.js"
import { Transfers } from "./Transfers.js"

declare module "../customers/View360.js" {
  interface View360Parts {
    /** The 10 latest bank transfers linked to the customer, newest first. */
    readonly transfers: ReadonlyArray<BankTransfer>
  }
}

/** The transfers part of the view. @since 0.2.0 */
export const viewParts: Effect.Effect<ReadonlyArray<ViewPart>, never, Transfers> = Effect.map(Transfers, (transfers) => [
  {
    name: "transfers",
    load: (c: Customer) => asPartFailure("reading the transfers of a 360 view")(transfers.forCustomer(c.id, { before: null, limit: 10 }))
  }
])
