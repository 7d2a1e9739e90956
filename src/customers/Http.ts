/**
 * The customers module's handlers: decode, check the endpoint's role, call the service, encode.
 *
 * @since 0.1.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { actor, apiOf, authorized, domain } from "../platform/http/HttpKit.js"
import { CustomersGroup } from "./Api.js"
import { Customers } from "./Customers.js"

const role = (endpoint: string, request?: { readonly payload?: unknown }) => authorized(CustomersGroup, endpoint, request)

/** The handlers of {@link CustomersGroup}, over the `Customers` service. @since 0.1.0 */
export const layer = HttpApiBuilder.group(apiOf(CustomersGroup), "customers", (handlers) =>
  Effect.gen(function*() {
    const customers = yield* Customers
    return handlers
      .handle("create", ({ payload }) => role("create")(domain(customers.create(payload))))
      .handle("search", ({ urlParams }) => domain(customers.search(urlParams)))
      .handle("recent", ({ urlParams }) => domain(customers.search({ page: 1, limit: urlParams.limit ?? 20 })))
      .handle("update", ({ path, payload }) => role("update", { payload })(domain(customers.update(path.id, payload))))
      .handle("merge", ({ payload }) =>
        role("merge")(Effect.flatMap(actor, (who) => domain(customers.merge({ ...payload, actor: who })))))
      .handle("delete", ({ path }) => role("delete")(domain(customers.delete(path.id))))
  }))
