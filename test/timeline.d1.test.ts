import { timelineContract } from "./contract/timeline.js"
import { d1Storage } from "./support/d1.js"

// every D1 statement crosses into workerd: fewer extra walks and property runs keep the file's time in line
timelineContract("notes, activities and the timeline on Cloudflare D1 (Miniflare)", d1Storage, { propertyRuns: 4, quick: true })
