import { fraudContract } from "./contract/fraud.js"
import { d1Storage } from "./support/d1.js"

// D1 under Miniflare answers a wallet write in about 130 ms: the properties take fewer runs
fraudContract("fraud on Cloudflare D1 (Miniflare)", d1Storage, { propertyRuns: 4 })
