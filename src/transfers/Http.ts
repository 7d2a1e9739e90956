/**
 * The transfers module's handlers.
 *
 * @since 0.2.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { actor, apiOf, authorized, domain } from "../platform/http/HttpKit.js"
import { TransfersGroup } from "./Api.js"
import { type BankTransfer, transferToJson } from "./Transfer.js"
import { type Linked, Transfers } from "./Transfers.js"

const role = (endpoint: string) => authorized(TransfersGroup, endpoint)
const pageJson = <P extends { readonly items: ReadonlyArray<BankTransfer> }>(p: P) => ({ ...p, items: p.items.map(transferToJson) })
const linkedJson = (l: Linked) => ({ transfer: transferToJson(l.transfer), deposit: l.deposit })
const defined = <A extends Record<string, unknown>>(o: A) =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))

/** The handlers of {@link TransfersGroup}, over the `Transfers` service. @since 0.2.0 */
export const layer = HttpApiBuilder.group(apiOf(TransfersGroup), "transfers", (handlers) =>
  Effect.gen(function*() {
    const transfers = yield* Transfers
    return handlers
      .handle("sepay", ({ headers, payload }) =>
        Effect.as(domain(transfers.receiveSepay(payload, headers.authorization)), { success: true as const }))
      .handle("unlinked", ({ urlParams }) => Effect.map(domain(transfers.unlinked(defined(urlParams))), pageJson))
      .handle("pending", ({ urlParams }) => Effect.map(domain(transfers.pending(defined(urlParams))), pageJson))
      .handle("get", ({ path }) => Effect.map(domain(transfers.get(path.id)), transferToJson))
      .handle("link", ({ payload }) =>
        role("link")(Effect.flatMap(actor, (who) => Effect.map(domain(transfers.link(payload, { actor: who })), linkedJson))))
      .handle("resolve", ({ path, payload }) =>
        role("resolve")(
          Effect.flatMap(actor, (who) => Effect.map(domain(transfers.resolve(path.id, defined(payload), { actor: who })), linkedJson))
        ))
      .handle("qr", ({ path, urlParams }) => domain(transfers.qr(path.phone, defined(urlParams))))
  }))
