import { SqliteDatabase } from "../src/sqlite.js"
import { mergeContract } from "./contract/merge.js"

mergeContract("merge on SQLite with deferred writes (D1's semantics)", SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true }))
