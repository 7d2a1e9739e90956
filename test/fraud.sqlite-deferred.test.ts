import { SqliteDatabase } from "../src/sqlite.js"
import { fraudContract } from "./contract/fraud.js"

fraudContract(
  "fraud on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
