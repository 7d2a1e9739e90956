import { SqliteDatabase } from "../src/sqlite.js"
import { mergeModulesContract } from "./contract/merge.modules.js"

mergeModulesContract(
  "the modules' merge parts on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
