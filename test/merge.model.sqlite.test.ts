import { SqliteDatabase } from "../src/sqlite.js"
import { mergeModelContract } from "./contract/merge.model.js"

mergeModelContract("merge, model-based, on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
