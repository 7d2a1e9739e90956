import { jobContract } from "./contract/jobs.js"
import { d1Storage } from "./support/d1.js"

jobContract("jobs on Cloudflare D1 (Miniflare)", d1Storage)
