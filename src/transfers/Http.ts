/**
 * The transfers module's handlers.
 *
 * @since 0.2.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { actor, apiOf, authorized, defined, domain } from "../platform/http/HttpKit.js"
import { TransfersGroup } from "./Api.js"
import { Transfers } from "./Transfers.js"

const role = (endpoint: string) => authorized(TransfersGroup, endpoint)

/** The handlers of {@link TransfersGroup}, over the `Transfers` service. @since 0.2.0 */
export const layer = HttpApiBuilder.group(apiOf(TransfersGroup), "transfers", (handlers) =>
  Effect.gen(function*() {
    const transfers = yield* Transfers
    return handlers
      .handle("sepay", ({ headers, payload }) =>
        Effect.as(domain(transfers.receiveSepay(payload, headers.authorization)), { success: true as const }))
      .handle("unlinked", ({ urlParams }) => domain(transfers.unlinked(defined(urlParams))))
      .handle("pending", ({ urlParams }) => domain(transfers.pending(defined(urlParams))))
      .handle("get", ({ path }) => domain(transfers.get(path.id)))
      .handle("link", ({ payload }) =>
        role("link")(Effect.flatMap(actor, (who) => domain(transfers.link(payload, { actor: who })))))
      .handle("resolve", ({ path, payload }) =>
        role("resolve")(
          Effect.flatMap(actor, (who) => domain(transfers.resolve(path.id, defined(payload), { actor: who })))
        ))
      .handle("qr", ({ path, urlParams }) => domain(transfers.qr(path.phone, defined(urlParams))))
  }))
