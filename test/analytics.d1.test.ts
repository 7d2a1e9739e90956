import { analyticsContract } from "./contract/analytics.js"
import { d1Storage } from "./support/d1.js"

// D1 under Miniflare answers a statement in milliseconds: fewer, smaller property runs
analyticsContract("retail analytics on Cloudflare D1 (Miniflare)", d1Storage, { propertyRuns: 3, propertySales: 8 })
