import { SqliteDatabase } from "../src/sqlite.js"
import { timelineContract } from "./contract/timeline.js"

timelineContract(
  "notes, activities and the timeline on SQLite with deferred writes (D1's semantics)",
  SqliteDatabase.layer({ filename: ":memory:", deferredWrites: true })
)
