/**
 * The imports module's HTTP group (skeleton: its endpoints are added with the module).
 *
 * @since 0.5.0
 */
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { Authentication } from "../platform/http/HttpKit.js"

/** The imports endpoints, under `/api`. @since 0.5.0 */
export class ImportsGroup extends HttpApiGroup.make("imports").middleware(Authentication).prefix("/api") {}
