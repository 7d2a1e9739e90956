import { SqliteDatabase } from "../src/sqlite.js"
import { customerContract } from "./contract/customers.js"

customerContract("customers on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
