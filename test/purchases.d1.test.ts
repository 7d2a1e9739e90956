import { purchaseContract } from "./contract/purchases.js"
import { d1Storage } from "./support/d1.js"

// D1 under Miniflare answers a statement in tens of milliseconds, not microseconds (a purchase takes
// ~200 ms): fewer and smaller runs; the at-once scores are still compared after every write, and with
// a recompute at the last write and at the end of each history
purchaseContract("purchases on Cloudflare D1 (Miniflare)", d1Storage, {
  runs: 6,
  historyPurchases: 8,
  historyReturns: 4,
  refreshEachWrite: false,
  propertyRuns: 4,
  modelRuns: 4,
  modelCommands: 8,
  quantileRuns: 2
})
