import { ticketContract } from "./contract/tickets.js"
import { d1Storage } from "./support/d1.js"

ticketContract("tickets on Cloudflare D1 (Miniflare)", d1Storage, { modelRuns: 6 })
