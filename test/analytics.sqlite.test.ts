import { SqliteDatabase } from "../src/sqlite.js"
import { analyticsContract } from "./contract/analytics.js"

analyticsContract("retail analytics on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
