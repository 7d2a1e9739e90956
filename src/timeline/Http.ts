/**
 * The timeline's handler.
 *
 * @since 0.2.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as Effect from "effect/Effect"
import { apiOf, domain } from "../platform/http/HttpKit.js"
import { TimelineGroup } from "./Api.js"
import { Timeline, type TimelineKind } from "./Timeline.js"

/** The handler of {@link TimelineGroup}. @since 0.2.0 */
export const layer = HttpApiBuilder.group(apiOf(TimelineGroup), "timeline", (handlers) =>
  Effect.gen(function*() {
    const timeline = yield* Timeline
    return handlers.handle("timeline", ({ path, urlParams }) =>
      domain(timeline.timeline(path.phone, {
        ...(urlParams.cursor === undefined ? {} : { cursor: urlParams.cursor }),
        ...(urlParams.limit === undefined ? {} : { limit: urlParams.limit }),
        ...(urlParams.kinds === undefined
          ? {}
          : { kinds: urlParams.kinds.split(",").map((k) => k.trim()).filter((k) => k !== "") as Array<TimelineKind> })
      })))
  }))
