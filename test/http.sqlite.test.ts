/**
 * The HTTP API on SQLite (an embedded file, as the demo runs it), through a listening Express server.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { httpSuite } from "./contract/http.js"

httpSuite("HTTP API on SQLite", async () => {
  const dir = mkdtempSync(join(tmpdir(), "c360-http-"))
  return { database: { sqlite: join(dir, "api.sqlite") }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) }
})
