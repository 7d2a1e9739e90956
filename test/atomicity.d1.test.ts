import { atomicityContract } from "./contract/atomicity.js"
import { d1Storage } from "./support/d1.js"

atomicityContract("unit of work on Cloudflare D1 (Miniflare)", d1Storage)
