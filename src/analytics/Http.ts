/**
 * The analytics group's handlers: decode, check the endpoint's role, call the service, encode. The
 * workbook endpoints validate their query first (a bad one is a 400 like any other), then answer
 * at once with a body streamed from the writer through a `TransformStream`: the workbook is never
 * held whole in memory. A failure after the first bytes can only cut the body short (the error is
 * logged); the client sees an incomplete download, never a workbook with wrong figures.
 *
 * @since 0.5.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { apiOf, authorized, defined, domain } from "../platform/http/HttpKit.js"
import { Analytics } from "./Analytics.js"
import { AnalyticsGroup } from "./Api.js"
import { decodeExportOptions, type ExportView, XLSX_MEDIA_TYPE } from "./Export.js"

const role = (endpoint: string) => authorized(AnalyticsGroup, endpoint)

/** The download's file name: the view and its filters, in characters safe in any file system. @since 0.5.0 */
export const workbookName = (view: ExportView, query: Readonly<Record<string, string | undefined>>): string =>
  [view, query.shopGroup, query.from, query.to]
    .filter((p): p is string => p !== undefined && p !== "")
    .map((p) => p.replace(/[^A-Za-z0-9_-]/g, ""))
    .filter((p) => p !== "")
    .join("_") + ".xlsx"

/** The handlers of {@link AnalyticsGroup}, over the `Analytics` service. @since 0.5.0 */
export const layer = HttpApiBuilder.group(apiOf(AnalyticsGroup), "analytics", (handlers) =>
  Effect.gen(function*() {
    const analytics = yield* Analytics

    const workbook = (endpoint: string, view: ExportView, query: Readonly<Record<string, string | undefined>>) =>
      role(endpoint)(domain(Effect.gen(function*() {
        const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
        const options = { view, ...defined(query), stream: writable }
        yield* decodeExportOptions(options)
        yield* Effect.forkDaemon(
          analytics.exportXlsx(options as never).pipe(
            Effect.catchAllCause((cause) => Effect.logWarning(`customer360 http: the ${view} workbook stopped`, cause))
          )
        )
        return HttpServerResponse.stream(
          Stream.fromReadableStream({ evaluate: () => readable, onError: (e) => e }),
          {
            contentType: XLSX_MEDIA_TYPE,
            headers: { "content-disposition": `attachment; filename="${workbookName(view, query)}"`, "cache-control": "no-store" }
          }
        )
      })))

    return handlers
      .handle("sales", ({ urlParams }) => role("sales")(domain(analytics.sales(defined(urlParams) as typeof urlParams))))
      .handle("coupons", ({ urlParams }) => role("coupons")(domain(analytics.coupons(defined(urlParams) as typeof urlParams))))
      .handle("comparison", ({ urlParams }) => role("comparison")(domain(analytics.comparison(defined(urlParams)))))
      .handleRaw("salesXlsx", ({ urlParams }) => workbook("salesXlsx", "sales", urlParams))
      .handleRaw("couponsXlsx", ({ urlParams }) => workbook("couponsXlsx", "coupons", urlParams))
      .handleRaw("comparisonXlsx", ({ urlParams }) => workbook("comparisonXlsx", "comparison", urlParams))
  }))
