import { SqliteDatabase } from "../src/sqlite.js"
import { mergeContract } from "./contract/merge.js"

mergeContract("merge on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
