import { SqliteDatabase } from "../src/sqlite.js"
import { identityContract } from "./contract/identity.js"

identityContract("identity on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }), {
  concurrentLogins: 130,
  concurrentConfirmations: 10
})
