import { SqliteDatabase } from "../src/sqlite.js"
import { timelineContract } from "./contract/timeline.js"

timelineContract("notes, activities and the timeline on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
