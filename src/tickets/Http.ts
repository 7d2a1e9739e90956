/**
 * The tickets module's handlers: decode, check the endpoint's role, call the service, encode.
 *
 * @since 0.2.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { actor, apiOf, authorized, defined, domain, requireRole } from "../platform/http/HttpKit.js"
import { TicketsGroup } from "./Api.js"
import { type TicketDetails, Tickets } from "./Tickets.js"

const role = (endpoint: string) => authorized(TicketsGroup, endpoint)
const details = ({ history, ticket }: TicketDetails) => ({ ...ticket, history })

/** The handlers of {@link TicketsGroup}, over the `Tickets` service. @since 0.2.0 */
export const layer = HttpApiBuilder.group(apiOf(TicketsGroup), "tickets", (handlers) =>
  Effect.gen(function*() {
    const tickets = yield* Tickets
    return handlers
      .handle("create", ({ payload }) =>
        role("create")(Effect.flatMap(actor, (who) => Effect.map(domain(tickets.create(payload as never, { actor: who })), details))))
      .handle("list", ({ urlParams }) => domain(tickets.list(defined(urlParams))))
      .handle("get", ({ path }) => Effect.map(domain(tickets.get(path.code)), details))
      .handle("update", ({ path, payload }) =>
        role("update")(Effect.flatMap(actor, (who) => domain(tickets.update(path.code, payload as never, { actor: who })))))
      .handle("cancel", ({ path }) =>
        role("cancel")(Effect.flatMap(actor, (who) => domain(tickets.cancel(path.code, { actor: who })))))
      .handle("act", ({ path, payload }) => {
        const act = Effect.flatMap(actor, (who) => domain(tickets.act(path.code, defined(payload) as never, { actor: who })))
        return role("act")(
          payload.action === "approve_boom" || payload.action === "refund"
            ? requireRole("manager", `A ${payload.action.replace("_", " ")}`)(act)
            : act
        )
      })
      .handle("escalateDeadlines", () => role("escalateDeadlines")(domain(tickets.escalateDeadlines())))
  }))
