import { transferContract } from "./contract/transfers.js"
import { d1Storage } from "./support/d1.js"

// every D1 statement crosses into workerd: fewer model sequences keep the file's time in line
transferContract("transfers on Cloudflare D1 (Miniflare)", d1Storage, { modelRuns: 4 })
