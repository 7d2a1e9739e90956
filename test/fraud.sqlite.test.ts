import { SqliteDatabase } from "../src/sqlite.js"
import { fraudContract } from "./contract/fraud.js"

fraudContract("fraud on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
