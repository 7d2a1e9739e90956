/**
 * The purchases module's parts of the 360 view: the customer's RFM as of now, its membership, and
 * its latest purchases.
 *
 * @since 0.3.0
 */
import * as Effect from "effect/Effect"
import { asPartFailure, type Customer, type ViewPart } from "../customers/index.js"
import { type Membership, membershipOf, type Purchase } from "./Purchase.js"
import { Purchases } from "./Purchases.js"
import { Rfm, type RfmView } from "./RfmService.js"

declare module "../customers/View360.js" {
  interface View360Parts {
    /** The RFM scores, tier and segment as of now, with the reasons (`null`: a customer without a phone yet). */
    readonly rfm: RfmView | null
    /** Level, discount, points, and how far the next level is. */
    readonly membership: Membership
    /** The 10 latest purchases, newest first. */
    readonly purchases: ReadonlyArray<Purchase>
  }
}

/** The purchases parts of the view. @since 0.3.0 */
export const viewParts: Effect.Effect<ReadonlyArray<ViewPart>, never, Purchases | Rfm> = Effect.gen(function*() {
  const purchases = yield* Purchases
  const rfm = yield* Rfm
  return [
    {
      name: "rfm",
      load: (c: Customer) => asPartFailure("reading the RFM of a 360 view")(c.phone === null ? Effect.succeed(null) : rfm.get(c.phone))
    },
    { name: "membership", load: (c: Customer) => Effect.succeed(membershipOf(c.totalSpent, c.points)) },
    {
      name: "purchases",
      load: (c: Customer) =>
        asPartFailure("reading the purchases of a 360 view")(
          c.phone === null ? Effect.succeed([]) : Effect.map(purchases.list(c.phone, { limit: 10 }), (p) => p.items)
        )
    }
  ]
})
