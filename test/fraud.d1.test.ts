import { fraudContract } from "./contract/fraud.js"
import { d1Storage } from "./support/d1.js"

fraudContract("fraud on Cloudflare D1 (Miniflare)", d1Storage, { propertyRuns: 8 })
