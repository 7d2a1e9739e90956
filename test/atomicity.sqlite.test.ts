import { SqliteDatabase } from "../src/sqlite.js"
import { atomicityContract } from "./contract/atomicity.js"

atomicityContract("unit of work on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
atomicityContract(
  "unit of work on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
