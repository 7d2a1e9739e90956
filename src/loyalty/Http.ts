/**
 * The loyalty group's handlers.
 *
 * @since 0.5.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { apiOf } from "../platform/http/HttpKit.js"
import { LoyaltyGroup } from "./Api.js"

/** The handlers of {@link LoyaltyGroup}. @since 0.5.0 */
export const layer = HttpApiBuilder.group(apiOf(LoyaltyGroup), "loyalty", (handlers) => handlers)
