/**
 * Cloudflare D1 for tests: a real D1 database in workerd, through Miniflare, from Node. Each
 * `freshD1` is a new, empty database, disposed of with its scope.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { Miniflare } from "miniflare"
import { D1Database } from "../../src/d1.js"

/** A new, empty D1 database (with its Miniflare instance) for the life of the scope. */
export const freshD1: Effect.Effect<D1Database.D1DatabaseLike, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(async () => {
    const mf = new Miniflare({
      modules: true,
      script: "export default { fetch() { return new Response('') } }",
      d1Databases: ["DB"]
    })
    return { mf, db: (await mf.getD1Database("DB")) as D1Database.D1DatabaseLike }
  }),
  ({ mf }) => Effect.promise(() => mf.dispose())
).pipe(Effect.map(({ db }) => db))

/** The library's D1 storage on a fresh database. */
export const d1Storage = Layer.unwrapScoped(Effect.map(freshD1, (binding) => D1Database.layer({ binding })))
