import { statsContract } from "./contract/stats.js"
import { d1Storage } from "./support/d1.js"

// D1 under Miniflare answers a statement in milliseconds: fewer, shorter property runs
statsContract("statistics on Cloudflare D1 (Miniflare)", d1Storage, { propertyRuns: 4, propertyPurchases: 5 })
