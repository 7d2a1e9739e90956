/**
 * The fraud module's handlers: decode, check the endpoint's role, call the service, encode. A flag
 * the customer does not have active is `404 FLAG_NOT_FOUND`.
 *
 * @since 0.3.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { actor, apiOf, authorized, defined, domain } from "../platform/http/HttpKit.js"
import { FraudGroup } from "./Api.js"
import { Fraud } from "./FraudService.js"

const role = (endpoint: string) => authorized(FraudGroup, endpoint)

/** The handlers of {@link FraudGroup}, over the `Fraud` service. @since 0.3.0 */
export const layer = HttpApiBuilder.group(apiOf(FraudGroup), "fraud", (handlers) =>
  Effect.gen(function*() {
    const fraud = yield* Fraud
    return handlers
      .handle("decisions", ({ path, urlParams }) => domain(fraud.decisions(path.phone, defined(urlParams))))
      .handle("clearFlag", ({ path, payload }) =>
        role("clearFlag")(Effect.flatMap(actor, (who) =>
          domain(fraud.clearFlag({ phone: path.phone, flag: path.flag, reason: payload.reason, actor: who })))))
      .handle("run", () => role("run")(Effect.flatMap(actor, (who) => domain(fraud.run({ actor: who })))))
      .handle("backtest", ({ payload }) => role("backtest")(domain(fraud.backtest(defined(payload) as never))))
  }))
