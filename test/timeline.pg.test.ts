import { describe } from "@effect/vitest"
import { timelineContract } from "./contract/timeline.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  timelineContract("notes, activities and the timeline on PostgreSQL", pgStorage())
})
