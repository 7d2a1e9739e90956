import { SqliteDatabase } from "../src/sqlite.js"
import { transferContract } from "./contract/transfers.js"

transferContract(
  "transfers on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
