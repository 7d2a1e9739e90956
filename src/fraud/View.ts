/**
 * The fraud module's part of the 360 view: the customer's active flags and latest decisions.
 *
 * @since 0.3.0
 */
import * as Effect from "effect/Effect"
import { asPartFailure, type Customer, type ViewPart } from "../customers/index.js"
import type { FraudDecision, FraudFlag } from "./Fraud.js"
import { Fraud } from "./FraudService.js"

declare module "../customers/View360.js" {
  interface View360Parts {
    /** The active fraud flags (newest first) and the 5 latest decisions, with their evidence. */
    readonly fraud: { readonly flags: ReadonlyArray<FraudFlag>; readonly decisions: ReadonlyArray<FraudDecision> }
  }
}

/** The fraud part of the view. @since 0.3.0 */
export const viewParts: Effect.Effect<ReadonlyArray<ViewPart>, never, Fraud> = Effect.map(Fraud, (fraud) => [
  { name: "fraud", load: (c: Customer) => asPartFailure("reading the fraud part of a 360 view")(fraud.forCustomer(c.id)) }
])
