/**
 * The library as its users run it: the built package (`dist/`, made by `npm run build`, which
 * `npm run bench` runs first), not its sources through the TypeScript loader the benches themselves
 * run under. That loader (tsx) compiles with esbuild's `keepNames`, which wraps every function created
 * at run time in a naming call (`Object.defineProperty`): on the wallet withdraw path that alone
 * measured ~1.4× the Node CPU per call of the built package. Typed from the sources, which the built
 * files are made from.
 */
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import type * as Main from "../../src/index.js"
import type * as Sqlite from "../../src/sqlite.js"

const built = (entry: string): string => {
  const url = new URL(`../../dist/${entry}.js`, import.meta.url)
  if (!existsSync(fileURLToPath(url))) throw new Error(`dist/${entry}.js is missing: run npm run build (npm run bench does)`)
  return url.href
}

/** The package's main entry, built. */
export const main = (await import(built("index"))) as typeof Main
/** The package's SQLite entry, built. */
export const sqlite = (await import(built("sqlite"))) as typeof Sqlite
