/**
 * The imports group's handlers.
 *
 * @since 0.5.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import { apiOf } from "../platform/http/HttpKit.js"
import { ImportsGroup } from "./Api.js"

/** The handlers of {@link ImportsGroup}. @since 0.5.0 */
export const layer = HttpApiBuilder.group(apiOf(ImportsGroup), "imports", (handlers) => handlers)
