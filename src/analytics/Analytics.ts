/**
 * The analytics service (skeleton).
 *
 * @since 0.5.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"

/** The analytics service's operations. @since 0.5.0 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled in with the module
export interface AnalyticsShape {}

/** The analytics service. @since 0.5.0 */
export class Analytics extends Context.Tag("customer360/Analytics")<Analytics, AnalyticsShape>() {}

/** The service. @since 0.5.0 */
export const layer = Layer.succeed(Analytics, {})
