/**
 * The analytics module's HTTP group (skeleton: its endpoints are added with the module).
 *
 * @since 0.5.0
 */
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { Authentication } from "../platform/http/HttpKit.js"

/** The analytics endpoints, under `/api`. @since 0.5.0 */
export class AnalyticsGroup extends HttpApiGroup.make("analytics").middleware(Authentication).prefix("/api") {}
