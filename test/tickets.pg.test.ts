import { describe } from "@effect/vitest"
import { ticketContract } from "./contract/tickets.js"
import { pgEnabled, pgStorage } from "./support/pg.js"

describe.skipIf(!pgEnabled)("PostgreSQL", () => {
  ticketContract("tickets on PostgreSQL", pgStorage())
})
