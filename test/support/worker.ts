/**
 * The Cloudflare Worker example for tests: bundled as it would be deployed (esbuild, the workerd
 * conditions) and run inside workerd by miniflare on a fresh local D1 database, with the given
 * tokens. `dispose` stops it and removes the bundle.
 */
import { build } from "esbuild"
import { Miniflare } from "miniflare"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

export interface RunningWorker {
  readonly mf: Miniflare
  readonly dispose: () => Promise<void>
}

/**
 * Bundles `examples/worker/worker.ts` and starts it with `C360_TOKENS` set to `tokens`, and any other
 * bindings given (`C360_SEPAY_API_KEY`, …).
 */
export const startWorker = async (tokens: string, bindings: Readonly<Record<string, string>> = {}): Promise<RunningWorker> => {
  const dir = mkdtempSync(join(tmpdir(), "c360-worker-"))
  const out = join(dir, "worker.js")
  await build({
    entryPoints: ["examples/worker/worker.ts"],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "browser"],
    outfile: out,
    logLevel: "silent"
  })
  const mf = new Miniflare({
    modules: true,
    scriptPath: out,
    modulesRoot: dir,
    compatibilityDate: "2026-07-01",
    d1Databases: ["DB"],
    bindings: { ...bindings, C360_TOKENS: tokens }
  })
  await mf.ready
  return {
    mf,
    dispose: async () => {
      await mf.dispose()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
