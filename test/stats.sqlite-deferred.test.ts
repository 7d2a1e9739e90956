import { SqliteDatabase } from "../src/sqlite.js"
import { statsContract } from "./contract/stats.js"

statsContract(
  "statistics on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
