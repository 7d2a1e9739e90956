import { SqliteDatabase } from "../src/sqlite.js"
import { jobContract } from "./contract/jobs.js"

jobContract("jobs on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
