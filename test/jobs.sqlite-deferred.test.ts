import { SqliteDatabase } from "../src/sqlite.js"
import { jobContract } from "./contract/jobs.js"

jobContract(
  "jobs on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
