/**
 * The purchases module's handlers: decode, check the endpoint's role, call the service, encode.
 *
 * @since 0.3.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { apiOf, authorized, defined, domain } from "../platform/http/HttpKit.js"
import { PurchasesGroup } from "./Api.js"
import { Purchases } from "./Purchases.js"
import { Rfm } from "./RfmService.js"

const role = (endpoint: string) => authorized(PurchasesGroup, endpoint)

/** The handlers of {@link PurchasesGroup}, over the `Purchases` and `Rfm` services. @since 0.3.0 */
export const layer = HttpApiBuilder.group(apiOf(PurchasesGroup), "purchases", (handlers) =>
  Effect.gen(function*() {
    const purchases = yield* Purchases
    const rfm = yield* Rfm
    return handlers
      .handle("record", ({ payload }) => role("record")(domain(purchases.record(defined(payload) as never))))
      .handle("recordReturn", ({ path, payload }) =>
        role("recordReturn")(domain(purchases.recordReturn({ ...defined(payload), purchaseReference: path.reference } as never))))
      .handle("get", ({ path }) =>
        Effect.map(domain(purchases.get(path.reference)), ({ purchase, returns }) => ({ ...purchase, returns })))
      .handle("list", ({ path, urlParams }) => domain(purchases.list(path.phone, defined(urlParams))))
      .handle("points", ({ path, urlParams }) => domain(purchases.points(path.phone, defined(urlParams))))
      .handle("membership", ({ path }) => domain(purchases.membership(path.phone)))
      .handle("rfm", ({ path }) => domain(rfm.get(path.phone)))
      .handle("recompute", () => role("recompute")(domain(rfm.recompute())))
  }))
