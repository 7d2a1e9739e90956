/**
 * The statistics' handlers: decode, check the endpoint's role, call the service, encode.
 *
 * @since 0.3.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { apiOf, authorized, defined, domain } from "../platform/http/HttpKit.js"
import { StatsGroup } from "./Api.js"
import { Stats } from "./Stats.js"

const role = (endpoint: string) => authorized(StatsGroup, endpoint)

/** The handlers of {@link StatsGroup}, over the `Stats` service. @since 0.3.0 */
export const layer = HttpApiBuilder.group(apiOf(StatsGroup), "stats", (handlers) =>
  Effect.gen(function*() {
    const stats = yield* Stats
    return handlers
      .handle("overview", ({ urlParams }) => role("overview")(domain(stats.overview(defined(urlParams)))))
      .handle("customer", ({ path, urlParams }) => role("customer")(domain(stats.customer(path.phone, defined(urlParams)))))
  }))
