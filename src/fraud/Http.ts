/**
 * The fraud module's handlers: decode, check the endpoint's role, call the service, encode. A flag
 * the customer does not have active is `404 NOT_FOUND`.
 *
 * @since 0.3.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { actor, apiError, apiOf, authorized, defined, domain } from "../platform/http/HttpKit.js"
import { FraudGroup } from "./Api.js"
import type { FraudFlagNotFound } from "./Fraud.js"
import { Fraud } from "./FraudService.js"

const role = (endpoint: string) => authorized(FraudGroup, endpoint)

/** The service call with a missing flag answered 404, and its other failures as `domain` maps them. */
const orFlagNotFound = <A, E extends { readonly _tag: string; readonly message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchAll(effect, (e) =>
    e._tag === "FraudFlagNotFound"
      ? Effect.fail(apiError("NOT_FOUND", e.message, { flag: (e as unknown as FraudFlagNotFound).flag }))
      : domain(Effect.fail(e)))

/** The handlers of {@link FraudGroup}, over the `Fraud` service. @since 0.3.0 */
export const layer = HttpApiBuilder.group(apiOf(FraudGroup), "fraud", (handlers) =>
  Effect.gen(function*() {
    const fraud = yield* Fraud
    return handlers
      .handle("decisions", ({ path, urlParams }) => domain(fraud.decisions(path.phone, defined(urlParams))))
      .handle("clearFlag", ({ path, payload }) =>
        role("clearFlag")(Effect.flatMap(actor, (who) =>
          orFlagNotFound(fraud.clearFlag({ phone: path.phone, flag: path.flag, reason: payload.reason, actor: who })))))
      .handle("run", () => role("run")(Effect.flatMap(actor, (who) => domain(fraud.run({ actor: who })))))
      .handle("backtest", ({ payload }) => role("backtest")(domain(fraud.backtest(defined(payload) as never))))
  }))
