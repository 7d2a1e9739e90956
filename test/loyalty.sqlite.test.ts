import { SqliteDatabase } from "../src/sqlite.js"
import { loyaltyContract } from "./contract/loyalty.js"

loyaltyContract("the loyalty sync on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
