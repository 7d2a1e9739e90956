import { SqliteDatabase } from "../src/sqlite.js"
import { importsContract } from "./contract/imports.js"

importsContract("imports on SQLite (in memory)", SqliteDatabase.layer({ filename: ":memory:" }))
