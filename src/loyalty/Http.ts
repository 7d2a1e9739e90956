/**
 * The loyalty group's handlers: check the endpoint's role, call the service, encode. The module's
 * own failures answer 409 `JOB_RUNNING` (`SyncInProgress`) and 503 `SERVICE_UNAVAILABLE`
 * (`LoyaltyNotConfigured`); the others the library's usual codes.
 *
 * @since 0.5.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { apiError, apiOf, authorized, defined, domain } from "../platform/http/HttpKit.js"
import { LoyaltyGroup } from "./Api.js"
import { Loyalty } from "./Loyalty.js"

const role = (endpoint: string) => authorized(LoyaltyGroup, endpoint)

/** The module's failures as error bodies, the others as the library maps them. */
const loyaltyDomain = <A, E extends { readonly _tag: string; readonly message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchAll(effect, (e) =>
    e._tag === "SyncInProgress"
      ? Effect.fail(apiError("JOB_RUNNING", e.message, { job: "loyalty-sync" }))
      : e._tag === "LoyaltyNotConfigured"
      ? Effect.fail(apiError("SERVICE_UNAVAILABLE", e.message))
      : domain(Effect.fail(e)))

/** The handlers of {@link LoyaltyGroup}, over the `Loyalty` service. @since 0.5.0 */
export const layer = HttpApiBuilder.group(apiOf(LoyaltyGroup), "loyalty", (handlers) =>
  Effect.gen(function*() {
    const loyalty = yield* Loyalty
    return handlers
      .handle("sync", ({ urlParams }) => role("sync")(loyaltyDomain(loyalty.sync(defined(urlParams)))))
      .handle("runs", ({ urlParams }) => Effect.map(loyaltyDomain(loyalty.runs(defined(urlParams))), (runs) => ({ runs })))
  }))
