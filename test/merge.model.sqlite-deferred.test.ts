import { SqliteDatabase } from "../src/sqlite.js"
import { mergeModelContract } from "./contract/merge.model.js"

mergeModelContract("merge, model-based, on SQLite with deferred writes (D1's semantics)", SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true }))
