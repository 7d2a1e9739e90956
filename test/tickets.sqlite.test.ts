import { SqliteDatabase } from "../src/sqlite.js"
import { ticketContract } from "./contract/tickets.js"

ticketContract("tickets on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
