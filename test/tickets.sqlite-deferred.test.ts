import { SqliteDatabase } from "../src/sqlite.js"
import { ticketContract } from "./contract/tickets.js"

ticketContract(
  "tickets on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
