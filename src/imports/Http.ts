/**
 * The imports group's handlers: the role first (a refused call reads and writes nothing), then the
 * kind (404) and the media type (415), then the body streamed to the service.
 *
 * @since 0.5.0
 */
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { actor, apiError, apiOf, authorized, domain, isApiError } from "../platform/http/HttpKit.js"
import { ImportsGroup, XLSX_MEDIA_TYPE } from "./Api.js"
import { type ImportReport, Imports } from "./Imports.js"
import { KINDS } from "./Kinds.js"

const role = (endpoint: string) => authorized(ImportsGroup, endpoint)

const OWN = ["ImportNotFound", "ImportHeaderInvalid", "FileFormatError", "FileAccessError", "ImportAborted"]

/** The service's own errors as API errors; the others through `domain`. */
const mapped = <A, E extends { readonly _tag: string; readonly message: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.catchAll(effect, (e) =>
    OWN.includes(e._tag)
      ? Effect.fail(
        e._tag === "ImportNotFound"
          ? apiError("NOT_FOUND", e.message)
          : e._tag === "ImportHeaderInvalid"
          ? apiError("VALIDATION_ERROR", e.message, { missing: (e as unknown as { missing: ReadonlyArray<string> }).missing })
          : apiError("VALIDATION_ERROR", e.message)
      )
      : domain(Effect.fail(e)))

const json = (r: ImportReport) => ({ ...r, failed: [...r.failed] })

/** The handlers of {@link ImportsGroup}, over the `Imports` service. @since 0.5.0 */
export const layer = HttpApiBuilder.group(apiOf(ImportsGroup), "imports", (handlers) =>
  Effect.gen(function*() {
    const imports = yield* Imports
    return handlers
      .handleRaw("run", ({ path }) =>
        role("run")(Effect.gen(function*() {
          if (!(KINDS as ReadonlyArray<string>).includes(path.kind)) {
            return yield* Effect.fail(apiError("NOT_FOUND", `No import kind ${path.kind}: customers, sales or coupons`))
          }
          const request = yield* HttpServerRequest.HttpServerRequest
          const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
          const format = type === "text/csv" ? "csv" as const : type === XLSX_MEDIA_TYPE ? "xlsx" as const : undefined
          if (format === undefined) {
            return yield* Effect.fail(apiError("UNSUPPORTED_MEDIA_TYPE", `An import's body must be text/csv or ${XLSX_MEDIA_TYPE}`))
          }
          // the envelope fails the body's stream with PAYLOAD_TOO_LARGE past its limit: remembered, answered as such
          let refused: unknown
          const body = Stream.toAsyncIterable(request.stream.pipe(Stream.tapError((e) =>
            Effect.sync(() => {
              if (isApiError(e)) refused = e
            })
          )))
          const who = yield* actor
          const report = yield* mapped(imports.run({ kind: path.kind, stream: body, format, actor: who })).pipe(
            Effect.catchAll((e) => Effect.fail(isApiError(refused) ? refused : e))
          )
          return json(report)
        })))
      .handle("get", ({ path }) => role("get")(Effect.map(mapped(imports.get(path.id)), json)))
  }))
