import { SqliteDatabase } from "../src/sqlite.js"
import { statsContract } from "./contract/stats.js"

statsContract("statistics on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
