/**
 * The analytics group's handlers.
 *
 * @since 0.5.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { apiOf } from "../platform/http/HttpKit.js"
import { AnalyticsGroup } from "./Api.js"

/** The handlers of {@link AnalyticsGroup}. @since 0.5.0 */
export const layer = HttpApiBuilder.group(apiOf(AnalyticsGroup), "analytics", (handlers) => handlers)
