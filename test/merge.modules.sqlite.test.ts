import { SqliteDatabase } from "../src/sqlite.js"
import { mergeModulesContract } from "./contract/merge.modules.js"

mergeModulesContract("the modules' merge parts on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
