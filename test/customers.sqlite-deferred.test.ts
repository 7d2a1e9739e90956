import { SqliteDatabase } from "../src/sqlite.js"
import { customerContract } from "./contract/customers.js"

customerContract(
  "customers on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
