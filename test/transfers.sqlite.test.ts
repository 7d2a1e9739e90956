import { SqliteDatabase } from "../src/sqlite.js"
import { transferContract } from "./contract/transfers.js"

transferContract("transfers on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
