/**
 * The loyalty module's HTTP group (skeleton: its endpoints are added with the module).
 *
 * @since 0.5.0
 */
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { Authentication } from "../platform/http/HttpKit.js"

/** The loyalty endpoints, under `/api`. @since 0.5.0 */
export class LoyaltyGroup extends HttpApiGroup.make("loyalty").middleware(Authentication).prefix("/api") {}
