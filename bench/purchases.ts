/**
 * Purchase recording benchmark: `purchases.record` on PostgreSQL, 16 concurrent callers, against a
 * hand-written transaction doing the same writes with a `pg` Pool of the same size, in the same
 * run. Target: library purchases/s ≥ 0.8× the baseline's.
 *
 * - Data set (support/purchase-data.ts): 100,000 customers (`--customers`), 500,000 purchases over
 *   the last ~180 days, their returns and figures, loaded set-based into the library-migrated schema;
 *   then scored once by the library's `rfm.recompute()` (every customer has its `c360_rfm` row and
 *   tier, as in a running shop). Each side gets its own copy (`CREATE DATABASE … TEMPLATE`).
 * - The work: caller c (of 16) records, one after another, purchases for existing customers by phone
 *   — customer `i` with `i mod 16 = c`, picked by a hash of (c, k), so two callers never buy for one
 *   customer at once — each with a distinct reference, 1–3 lines and their total as the amount. The
 *   k-th purchase of caller c is the same on both sides (same customer, lines, reference).
 * - Library: the facade (`createCustomer360`, `maxConnections: 16`, the built package), awaiting
 *   `c360.purchases.record({ phone, amount, reference, items })`.
 * - Baseline: the same purchase by hand (pg.Pool, 16 connections; unnamed parameterised statements,
 *   one `await` each): `BEGIN`; the customer by phone `FOR UPDATE` with its last purchase day and
 *   its purchases in the 90-day window; points, totals, level and the RFM score and tier (DOMAIN §6,
 *   §7) computed in JavaScript; INSERT the purchase; INSERT its lines; UPDATE the customer's totals,
 *   points, last purchase, level, tier, `purchase_version` and `updated_at`; upsert its `c360_rfm`
 *   row; INSERT its outbox rows (`customer.purchase_recorded`, and `customer.level_changed` /
 *   `customer.tier_changed` when they change) in one statement; `COMMIT`. The rows and JSON are the
 *   library's (checked on one purchase recorded on both sides).
 * - 5 rounds of 15 s per side after a 10 s warm-up each (the library's code needs it to be
 *   optimised: its CPU per purchase still fell by a third from a 4 s warm-up's first round to the
 *   third), alternating which side goes first; medians. Node process CPU per purchase
 *   (`process.cpuUsage`) and the machine's (/proc/stat, every process) as diagnostics.
 * - Checks per side: one purchase row, its lines, one `purchase_recorded` event per success; the
 *   customers' totals, points and versions agree with their purchases; every customer's RFM tier is
 *   its customer's tier.
 *
 * Options: `--customers N` (default 100,000), `--seconds S` (default 15), `--rounds R` (default 5).
 * `C360_PG_URL` (default postgres://postgres@127.0.0.1:5432); databases `c360_bench_pur_*`, dropped
 * at the end (also on failure or Ctrl-C). `C360_BENCH_QUICK=1`: 2 s rounds (figures meaningless).
 *
 * Exit code 0 on a MISS (this is a measurement); non-zero on an error or a correctness mismatch.
 */
import { readFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import pg from "pg"
import type { Customer360Instance } from "../src/index.js"
import { benchDatabases, withDatabase } from "./support/databases.js"
import { newId } from "./support/ids.js"
import { main } from "./support/library.js"
import { describeActivity, sampleActivity, type Activity } from "./support/pg-activity.js"
import { loadPg, purchaseCount, vnBusinessDay } from "./support/purchase-data.js"
import { librarySource } from "./support/revision.js"
import { fmt, median } from "./support/stats.js"

const { createCustomer360 } = main

const QUICK = process.env.C360_BENCH_QUICK === "1"
const PG_URL = process.env.C360_PG_URL || "postgres://postgres@127.0.0.1:5432"
const argValue = (name: string): string | undefined => {
  const args = process.argv.slice(3)
  const i = args.indexOf(`--${name}`)
  if (i >= 0) return args[i + 1]
  return args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}
const CUSTOMERS = Math.max(320, Math.round(Number(argValue("customers") ?? 100_000) / 20) * 20)
const SECONDS = Number(argValue("seconds") ?? (QUICK ? 2 : 15))
const ROUNDS = Math.max(1, Number(argValue("rounds") ?? 5))
const WARMUP_SECONDS = QUICK ? 1 : 10
const CALLERS = 16
const TARGET = 0.8
const DAY = 86_400_000

// --- reporting ----------------------------------------------------------------------------------

interface SummaryRow {
  readonly label: string
  readonly value: string
  readonly target?: string
  readonly pass?: boolean
}
const summary: Array<SummaryRow> = []
const problems: Array<string> = []
const check = (ok: boolean, message: string): void => {
  if (ok) return
  problems.push(message)
  console.error(`purchases: MISMATCH ${message}`)
}
const ops = (n: number): string => `${fmt(n)}/s`
const x = (r: number): string => `${r.toFixed(2)}×`
const list = (xs: ReadonlyArray<number>, f: (n: number) => string): string => xs.map(f).join(", ")
const elapsed = (start: number): string => `${((performance.now() - start) / 1000).toFixed(1)} s`
const load = (): string => `load average ${loadavg().map((l) => l.toFixed(1)).join(" ")} on ${cpus().length} CPUs`

/** Busy CPU time of the whole machine so far, in µs (/proc/stat; null where there is none). */
const machineBusy = (): number | null => {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number)
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f
    return (user + nice + system + irq + softirq + steal) * 10_000 // USER_HZ 100
  } catch {
    return null
  }
}

// --- the work -------------------------------------------------------------------------------------

/** A pseudo-random whole number in [0, 2^32) of two numbers (deterministic: same on both sides). */
const hash = (a: number, b: number): number => {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b + 0x632be5ab, 0xc2b2ae35)
  h ^= h >>> 16
  h = Math.imul(h, 0x7feb352d)
  h ^= h >>> 15
  return h >>> 0
}

interface Item {
  readonly productId: string
  readonly name: string
  readonly quantity: number
  readonly unitPrice: number
}
interface PurchaseCall {
  readonly phone: string
  readonly amount: number
  readonly reference: string
  readonly items: ReadonlyArray<Item>
}

const phoneOf = (i: number): string => `09${String(i).padStart(8, "0")}`

/**
 * Caller c's k-th purchase: a customer of its own (i ≡ c + 1 mod 16, never one of the last 16,
 * which the comparison probe uses), 1–3 lines, their total.
 */
const purchaseOf = (tag: string, c: number, k: number): PurchaseCall => {
  const h = hash(c, k)
  const slot = h % (Math.floor(CUSTOMERS / CALLERS) - 1)
  const i = slot * CALLERS + c + 1 // 1…CUSTOMERS − 16
  const lines = 1 + (h >>> 8) % 3
  const items = Array.from({ length: lines }, (_, l) => {
    const p = hash(h, l)
    return { productId: `sku-${p % 500}`, name: `Product ${p % 500}`, quantity: 1 + (p >>> 9) % 3, unitPrice: 10_000 * (1 + (p >>> 12) % 60) }
  })
  return { phone: phoneOf(i), amount: items.reduce((a, it) => a + it.quantity * it.unitPrice, 0), reference: `${tag}-${c}-${k}`, items }
}

// --- the baseline -------------------------------------------------------------------------------------

const LEVELS = [["platinum", 10_000_000], ["gold", 5_000_000], ["silver", 2_000_000], ["bronze", 0]] as const
const levelFor = (spent: number): string => LEVELS.find(([, min]) => spent >= min)![0]

/** R, F, M (DOMAIN §6), the tier and the segment (docs/purchases.md's table), by hand. */
const score = (lastDay: number, today: number, frequency: number, monetary: number, createdAt: number, now: number, old: string) => {
  const days = Math.max(0, today - lastDay)
  const r = days <= 7 ? 5 : days <= 14 ? 4 : days <= 30 ? 3 : days <= 60 ? 2 : 1
  const f = frequency >= 11 ? 5 : frequency >= 6 ? 4 : frequency >= 3 ? 3 : frequency >= 2 ? 2 : 1
  const m = monetary > 10_000_000 ? 5 : monetary >= 5_000_000 ? 4 : monetary >= 2_000_000 ? 3 : monetary >= 500_000 ? 2 : 1
  const sum = r + f + m
  const tier = old === "blacklist" ? "blacklist" : now - createdAt < 30 * DAY ? "new" : sum >= 14 ? "platinum" : sum >= 11 ? "gold" :
    sum >= 8 ? "silver" : "new"
  const between = (v: number, lo: number, hi: number) => v >= lo && v <= hi
  const segment = r === 5 && f === 5 && m === 5 ? "Champions"
    : r >= 3 && f >= 3 && m >= 2 ? "Potential Loyalist"
    : between(r, 2, 4) && between(f, 2, 4) && between(m, 2, 4) ? "Loyal"
    : between(r, 3, 4) && f <= 3 && m >= 3 ? "Promising"
    : r >= 4 ? "New"
    : r <= 2 && between(f, 3, 4) && m >= 4 ? "Can't Lose Them"
    : r <= 2 && f >= 2 && m >= 4 ? "At Risk"
    : r <= 3 && f >= 3 && m >= 3 ? "Need Attention"
    : between(r, 2, 3) ? "About To Sleep"
    : "Lost"
  return { r, f, m, tier, segment }
}

const CUSTOMER_SQL = `SELECT c.id, c.tier, c.membership_level, c.total_orders, c.total_spent, c.points, c.last_purchase_at,
    c.created_at, c.purchase_version,
    (SELECT max(business_day) FROM c360_purchases p WHERE p.customer_id = c.id) AS last_day,
    (SELECT count(*) FROM c360_purchases p WHERE p.customer_id = c.id AND p.business_day >= $2) AS frequency
  FROM c360_customers c WHERE c.phone = $1 FOR UPDATE OF c`

interface BaselineResult {
  readonly customerId: string
  readonly levelChanged: boolean
  readonly tierChanged: boolean
}

/** The hand-written purchase: one transaction, one statement per step. */
export const baselineRecord = async (pool: pg.Pool, p: PurchaseCall): Promise<BaselineResult> => {
  const client = await pool.connect()
  let open = false
  try {
    const now = Date.now()
    const today = vnBusinessDay(now)
    await client.query("BEGIN")
    open = true
    const found = (await client.query(CUSTOMER_SQL, [p.phone, today - 89])).rows[0] as Record<string, string | null> | undefined
    if (found === undefined) throw new Error(`no customer with phone ${p.phone}`)
    if (found.tier === "blacklist") throw new Error(`customer ${found.id} is blacklisted`)
    const customerId = found.id!
    const points = Math.floor(p.amount / 10_000)
    const totalSpent = Number(found.total_spent) + p.amount
    const totalPoints = Number(found.points) + points
    const lastDay = found.last_day === null ? today : Math.max(Number(found.last_day), today)
    const frequency = Number(found.frequency) + 1
    const s = score(lastDay, today, frequency, totalSpent, Number(found.created_at), now, found.tier!)
    const level = levelFor(totalSpent)
    const lastAt = found.last_purchase_at === null ? now : Math.max(Number(found.last_purchase_at), now)
    const purchaseId = newId("pur", now)
    const fingerprint = JSON.stringify([customerId, p.amount, null, null, p.items.map((i) => [i.productId, i.name, i.quantity, i.unitPrice])])
    await client.query(`INSERT INTO c360_purchases (id, reference, fingerprint, customer_id, amount, returned, points, points_returned,
        shop_id, at, business_day, created_at) VALUES ($1, $2, $3, $4, $5, 0, $6, 0, NULL, $7, $8, $7)`,
      [purchaseId, p.reference, fingerprint, customerId, p.amount, points, now, today])
    const values: unknown[] = []
    const rows = p.items.map((it, line) => {
      values.push(purchaseId, line + 1, customerId, it.productId, it.name, it.quantity, it.unitPrice)
      const b = line * 7
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7})`
    })
    await client.query(`INSERT INTO c360_purchase_items (purchase_id, line, customer_id, product_id, name, quantity, unit_price)
      VALUES ${rows.join(", ")}`, values)
    await client.query(`UPDATE c360_customers SET purchase_version = $1, total_orders = $2, total_spent = $3, points = $4,
        last_purchase_at = $5, membership_level = $6, tier = $7, updated_at = $8 WHERE id = $9`,
      [Number(found.purchase_version) + 1, Number(found.total_orders) + 1, totalSpent, totalPoints, lastAt, level, s.tier, now, customerId])
    await client.query(`INSERT INTO c360_rfm (customer_id, last_day, frequency, monetary, r, f, m, segment, tier, as_of_day, scored_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
      ON CONFLICT (customer_id) DO UPDATE SET last_day = excluded.last_day, frequency = excluded.frequency,
        monetary = excluded.monetary, r = excluded.r, f = excluded.f, m = excluded.m, segment = excluded.segment,
        tier = excluded.tier, as_of_day = excluded.as_of_day, scored_at = excluded.scored_at`,
      [customerId, lastDay, frequency, totalSpent, s.r, s.f, s.m, s.segment, s.tier, today, now])
    const iso = new Date(now).toISOString()
    const events: Array<[string, string]> = [["customer.purchase_recorded", JSON.stringify({
      purchase: {
        id: purchaseId, reference: p.reference, customerId, amount: p.amount, returned: 0, points, pointsReturned: 0, shopId: null,
        items: p.items.map((i) => ({ productId: i.productId, name: i.name, quantity: i.quantity, unitPrice: i.unitPrice })),
        at: iso, createdAt: iso
      },
      totalSpent,
      points: totalPoints
    })]]
    const levelChanged = level !== found.membership_level
    const tierChanged = s.tier !== found.tier
    if (levelChanged) events.push(["customer.level_changed", JSON.stringify({ from: found.membership_level, to: level, totalSpent })])
    if (tierChanged) {
      events.push(["customer.tier_changed", JSON.stringify({ from: found.tier, to: s.tier, r: s.r, f: s.f, m: s.m, reason: "purchase" })])
    }
    const eventValues: unknown[] = []
    const eventRows = events.map(([type, payload], n) => {
      eventValues.push(newId("evt", now), type, customerId, payload, now)
      const b = n * 5
      return `($${b + 1}, 'customers', $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5})`
    })
    await client.query(`INSERT INTO c360_outbox (id, channel, type, subject, payload, occurred_at) VALUES ${eventRows.join(", ")}`,
      eventValues)
    await client.query("COMMIT")
    open = false
    return { customerId, levelChanged, tierChanged }
  } catch (e) {
    if (open) await client.query("ROLLBACK").catch(() => undefined)
    throw e
  } finally {
    client.release()
  }
}

// --- load -------------------------------------------------------------------------------------------

interface Recorder {
  readonly side: "library" | "baseline"
  readonly record: (p: PurchaseCall) => Promise<void>
  readonly close: () => Promise<void>
}

interface Run {
  readonly rate: number
  readonly done: number
  readonly failures: number
  readonly failureTags: ReadonlyMap<string, number>
  readonly amount: number
  readonly lines: number
  readonly cpuPerOp: number
  readonly machinePerOp: number
  readonly p50: number
  readonly p99: number
  readonly activity?: Activity
}

/** Where each caller is in its sequence, per side (so that a side never repeats a reference). */
const next: Record<Recorder["side"], Array<number>> = { library: Array(CALLERS).fill(0), baseline: Array(CALLERS).fill(0) }

const runLoad = async (r: Recorder, seconds: number, database?: string): Promise<Run> => {
  let done = 0
  let failures = 0
  let amount = 0
  let lines = 0
  const failureTags = new Map<string, number>()
  const latencies: number[] = []
  const sampler = database === undefined ? undefined : await sampleActivity(PG_URL, database)
  const cpu = process.cpuUsage()
  const machine = machineBusy()
  const start = performance.now()
  const deadline = start + seconds * 1000
  await Promise.all(Array.from({ length: CALLERS }, async (_, c) => {
    while (performance.now() < deadline) {
      const p = purchaseOf("bench", c, next[r.side][c]!++)
      const t = performance.now()
      try {
        await r.record(p)
        latencies.push(performance.now() - t)
        done++
        amount += p.amount
        lines += p.items.length
      } catch (e) {
        failures++
        const tag = (e as { _tag?: string })._tag ?? (e instanceof Error ? e.message.slice(0, 80) : String(e))
        failureTags.set(tag, (failureTags.get(tag) ?? 0) + 1)
      }
    }
  }))
  const secondsTaken = (performance.now() - start) / 1000
  const used = process.cpuUsage(cpu)
  const busy = machineBusy()
  const activity = sampler === undefined ? undefined : await sampler.stop()
  latencies.sort((a, b) => a - b)
  return {
    rate: done / secondsTaken,
    done,
    failures,
    failureTags,
    amount,
    lines,
    cpuPerOp: (used.user + used.system) / Math.max(1, done),
    machinePerOp: machine === null || busy === null ? NaN : (busy - machine) / Math.max(1, done),
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? NaN,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? NaN,
    ...(activity === undefined ? {} : { activity })
  }
}

// --- checks -------------------------------------------------------------------------------------------

interface Totals {
  readonly purchases: number
  readonly items: number
  readonly recorded: number
  readonly levelEvents: number
  readonly tierEvents: number
  readonly orders: number
  readonly spent: number
  readonly versions: number
  readonly badTotals: number
  readonly badTiers: number
  readonly rfm: number
}

const totalsOf = (database: string): Promise<Totals> =>
  pgDatabases.admin(async (c) => {
    const r = (await c.query(`SELECT
        (SELECT count(*) FROM c360_purchases) AS purchases,
        (SELECT count(*) FROM c360_purchase_items) AS items,
        (SELECT count(*) FROM c360_outbox WHERE type = 'customer.purchase_recorded') AS recorded,
        (SELECT count(*) FROM c360_outbox WHERE type = 'customer.level_changed') AS level_events,
        (SELECT count(*) FROM c360_outbox WHERE type = 'customer.tier_changed') AS tier_events,
        (SELECT sum(total_orders) FROM c360_customers) AS orders,
        (SELECT sum(total_spent) FROM c360_customers) AS spent,
        (SELECT sum(purchase_version) FROM c360_customers) AS versions,
        (SELECT count(*) FROM c360_customers c LEFT JOIN (SELECT customer_id, count(*) AS n, sum(amount - returned) AS s,
            sum(points - points_returned) AS pts FROM c360_purchases GROUP BY customer_id) p ON p.customer_id = c.id
          WHERE c.total_orders <> coalesce(p.n, 0) OR c.total_spent <> coalesce(p.s, 0) OR c.points <> coalesce(p.pts, 0)) AS bad_totals,
        (SELECT count(*) FROM c360_customers c JOIN c360_rfm x ON x.customer_id = c.id WHERE c.tier <> x.tier) AS bad_tiers,
        (SELECT count(*) FROM c360_rfm) AS rfm`)).rows[0] as Record<string, string>
    return {
      purchases: Number(r.purchases),
      items: Number(r.items),
      recorded: Number(r.recorded),
      levelEvents: Number(r.level_events),
      tierEvents: Number(r.tier_events),
      orders: Number(r.orders),
      spent: Number(r.spent),
      versions: Number(r.versions),
      badTotals: Number(r.bad_totals),
      badTiers: Number(r.bad_tiers),
      rfm: Number(r.rfm)
    }
  }, database)

/** What one purchase wrote, its ids and instants aside: for comparing the two sides. */
const writtenBy = (database: string, reference: string): Promise<string> =>
  pgDatabases.admin(async (c) => {
    const p = (await c.query(`SELECT * FROM c360_purchases WHERE reference = $1`, [reference])).rows[0] as Record<string, unknown>
    const items = (await c.query(`SELECT line, customer_id, product_id, name, quantity, unit_price FROM c360_purchase_items
      WHERE purchase_id = $1 ORDER BY line`, [p.id])).rows
    const customer = (await c.query(`SELECT total_orders, total_spent, points, membership_level, tier, purchase_version,
      last_purchase_at = $2::bigint AS last_is_purchase, updated_at = $2::bigint AS updated_then FROM c360_customers WHERE id = $1`,
      [p.customer_id, p.at])).rows[0]
    const rfm = (await c.query(`SELECT last_day, frequency, monetary, r, f, m, segment, tier, as_of_day, scored_at = $2::bigint AS scored_then
      FROM c360_rfm WHERE customer_id = $1`, [p.customer_id, p.at])).rows[0]
    const events = (await c.query(`SELECT channel, type, subject, payload, occurred_at = $2::bigint AS then FROM c360_outbox
      WHERE subject = $1 AND occurred_at >= $2::bigint ORDER BY seq`, [p.customer_id, p.at])).rows.map((e: Record<string, unknown>) => {
      const payload = JSON.parse(String(e.payload)) as Record<string, Record<string, unknown>>
      if (payload.purchase !== undefined) {
        for (const k of ["id", "at", "createdAt"]) payload.purchase[k] = typeof payload.purchase[k]
      }
      return { ...e, payload }
    })
    const { id, at, created_at, ...purchase } = p
    return JSON.stringify({
      purchase: { ...purchase, id: typeof id, createdIsAt: at === created_at, fingerprint: p.fingerprint }, items, customer, rfm, events
    }, null, 1)
  }, database)

// --- main -------------------------------------------------------------------------------------------

const pgDatabases = benchDatabases(PG_URL, "c360_bench_pur", "purchases")

const runLine = (label: string, r: Run): string =>
  `  ${label.padEnd(20)} ${ops(r.rate).padStart(9)}  (${fmt(r.done)} purchases, ${r.failures} failed${
    r.failures > 0 ? `: ${[...r.failureTags].map(([t, n]) => `${n} ${t}`).join(", ")}` : ""
  }; p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms; Node CPU ${fmt(r.cpuPerOp)} µs, machine CPU ${fmt(r.machinePerOp)} µs per purchase)`

export async function run(): Promise<void> {
  const t0 = performance.now()
  const builtFrom = librarySource()
  const loadAtStart = load()
  console.log(`purchases: ${fmt(CUSTOMERS)} customers, ${CALLERS} callers, ${ROUNDS} round(s) of ${SECONDS} s per side; ${loadAtStart}` +
    `${QUICK ? "; QUICK MODE" : ""}`)
  let interrupted = false
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return
    interrupted = true
    console.error(`purchases: ${signal}, dropping the databases`)
    void pgDatabases.dropAll().finally(() => process.exit(130))
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)
  const recorders: Recorder[] = []
  let failure: unknown
  try {
    const unreachable = await pgDatabases.reachable()
    if (unreachable !== null) throw new Error(`PostgreSQL is unreachable at ${PG_URL} (${unreachable}); set C360_PG_URL`)
    const now = Date.now()
    const source = await pgDatabases.create("_source")
    const url = (db: string) => withDatabase(PG_URL, db)
    await (await createCustomer360({ database: { postgres: { url: url(source) } } })).close()
    const loaded = await pgDatabases.admin((c) => loadPg(c, { customers: CUSTOMERS, now }), source)
    check(loaded.purchases === purchaseCount(CUSTOMERS), `loaded ${JSON.stringify(loaded)}`)
    const scorer = await createCustomer360({ database: { postgres: { url: url(source) } } })
    const scored = await scorer.rfm.recompute()
    await scorer.close()
    await pgDatabases.admin((c) => c.query("VACUUM ANALYZE"), source)
    console.log(`purchases: data set ${fmt(loaded.customers)} customers, ${fmt(loaded.purchases)} purchases, ${fmt(loaded.returns)} returns, ` +
      `scored (${fmt(scored.changed)} tiers set) in ${elapsed(t0)}`)
    const databases = { library: await pgDatabases.create("_library", source), baseline: await pgDatabases.create("_baseline", source) }
    const before = { library: await totalsOf(databases.library), baseline: await totalsOf(databases.baseline) }

    const c360: Customer360Instance = await createCustomer360({ database: { postgres: { url: url(databases.library), maxConnections: CALLERS } } })
    recorders.push({
      side: "library",
      record: async (p) => {
        await c360.purchases.record({ phone: p.phone, amount: p.amount, reference: p.reference, items: p.items })
      },
      close: () => c360.close()
    })
    const pool = new pg.Pool({ connectionString: url(databases.baseline), max: CALLERS, application_name: "c360-bench-purchases" })
    recorders.push({ side: "baseline", record: async (p) => void (await baselineRecord(pool, p)), close: () => pool.end() })
    const [library, baseline] = recorders as [Recorder, Recorder]

    for (const r of recorders) console.log(runLine(`warm-up ${r.side}`, await runLoad(r, WARMUP_SECONDS)))
    const rounds: Array<{ library: Run; baseline: Run }> = []
    for (let n = 0; n < ROUNDS; n++) {
      const order = n % 2 === 0 ? [library, baseline] : [baseline, library]
      const got: Partial<Record<Recorder["side"], Run>> = {}
      for (const r of order) {
        got[r.side] = await runLoad(r, SECONDS, databases[r.side])
        console.log(runLine(`round ${n + 1} ${r.side}`, got[r.side]!))
      }
      rounds.push({ library: got.library!, baseline: got.baseline! })
      console.log(`  round ${n + 1} library/baseline ${x(got.library!.rate / got.baseline!.rate)}; ${load()}`)
    }
    const ratios = rounds.map((r) => r.library.rate / r.baseline.rate)
    const med = (side: Recorder["side"], f: (r: Run) => number) => median(rounds.map((r) => f(r[side])))
    console.log(`purchases: medians of ${ROUNDS} round(s) of ${SECONDS} s, ${CALLERS} callers:`)
    for (const side of ["library", "baseline"] as const) {
      const a = rounds.map((r) => r[side].activity!)
      const mean = (f: (v: Activity) => number) => a.reduce((s, v) => s + f(v), 0) / a.length
      console.log(`  ${side.padEnd(8)} ${ops(med(side, (r) => r.rate))} (per round ${list(rounds.map((r) => r[side].rate), fmt)}), ` +
        `p50 ${med(side, (r) => r.p50).toFixed(1)} ms, p99 ${med(side, (r) => r.p99).toFixed(1)} ms, Node CPU ${fmt(med(side, (r) => r.cpuPerOp))} µs ` +
        `and machine CPU ${fmt(med(side, (r) => r.machinePerOp))} µs per purchase; connections: ${describeActivity({
          samples: a.reduce((s, v) => s + v.samples, 0), lock: mean((v) => v.lock), active: mean((v) => v.active),
          client: mean((v) => v.client), idle: mean((v) => v.idle)
        })}`)
    }
    const ratio = median(ratios)
    console.log(`  purchases/s library/baseline: median ${x(ratio)} (per round ${list(ratios, x)}); target ≥ ${x(TARGET)}: ${ratio >= TARGET ? "PASS" : "MISS"}`)

    // one purchase on both sides, its rows compared
    const probe = { phone: phoneOf(CUSTOMERS), amount: 2_345_000, reference: "probe-1", items: [
      { productId: "sku-a", name: "Áo dài", quantity: 1, unitPrice: 2_000_000 }, { productId: "sku-b", name: "Nón lá", quantity: 3, unitPrice: 115_000 }
    ] }
    await library.record(probe)
    await baseline.record(probe)
    for (const r of recorders.splice(0)) await r.close()
    const [wroteLib, wroteBase] = [await writtenBy(databases.library, "probe-1"), await writtenBy(databases.baseline, "probe-1")]
    check(wroteLib === wroteBase, `one purchase wrote different rows:\n  library:  ${wroteLib}\n  baseline: ${wroteBase}`)
    console.log(`purchases: one purchase recorded on both sides wrote ${wroteLib === wroteBase ? "the same rows and events (ids and instants aside)" : "DIFFERENT rows"}`)

    for (const side of ["library", "baseline"] as const) {
      const t = await totalsOf(databases[side])
      const b = before[side]
      const all = [...rounds.map((r) => r[side])]
      const succeeded = t.purchases - b.purchases
      check(succeeded === t.recorded - b.recorded, `${side}: ${succeeded} purchases, ${t.recorded - b.recorded} purchase_recorded events`)
      check(t.orders - b.orders === succeeded && t.versions - b.versions === succeeded,
        `${side}: orders +${t.orders - b.orders}, versions +${t.versions - b.versions} for ${succeeded} purchases`)
      check(t.badTotals === 0, `${side}: ${t.badTotals} customers' totals or points disagree with their purchases`)
      check(t.badTiers === 0 && t.rfm === CUSTOMERS, `${side}: ${t.badTiers} tiers differ from the RFM row's, ${t.rfm} RFM rows`)
      check(all.every((r) => r.failures === 0), `${side}: ${all.reduce((a, r) => a + r.failures, 0)} purchases failed`)
      console.log(`purchases: ${side} rows: +${fmt(succeeded)} purchases, +${fmt(t.items - b.items)} lines, ` +
        `+${fmt(t.recorded - b.recorded)} purchase_recorded, +${fmt(t.levelEvents - b.levelEvents)} level_changed, ` +
        `+${fmt(t.tierEvents - b.tierEvents)} tier_changed events; totals ${t.badTotals === 0 ? "agree" : "DISAGREE"} with the purchases`)
    }

    for (const side of ["library", "baseline"] as const) {
      summary.push({
        label: `${side}: purchases/s (${CALLERS} callers, median)`,
        value: `${ops(med(side, (r) => r.rate))} (per round ${list(rounds.map((r) => r[side].rate), fmt)}), p50 ${med(side, (r) => r.p50).toFixed(1)} ms, ` +
          `p99 ${med(side, (r) => r.p99).toFixed(1)} ms`
      })
    }
    summary.push({ label: "library/baseline purchases/s", value: `${x(ratio)} (per round ${list(ratios, x)})`, target: `≥ ${x(TARGET)}`, pass: ratio >= TARGET })
    summary.push({
      label: "Node CPU per purchase: library / baseline",
      value: `${fmt(med("library", (r) => r.cpuPerOp))} µs / ${fmt(med("baseline", (r) => r.cpuPerOp))} µs (diagnostic)`
    })
    summary.push({
      label: "machine CPU per purchase: library / baseline",
      value: `${fmt(med("library", (r) => r.machinePerOp))} µs / ${fmt(med("baseline", (r) => r.machinePerOp))} µs (all processes; diagnostic)`
    })
  } catch (e) {
    failure = e
    console.error("purchases: FAILED", e)
  } finally {
    for (const r of recorders) await r.close().catch(() => undefined)
    await pgDatabases.dropAll()
    process.off("SIGINT", onSignal)
    process.off("SIGTERM", onSignal)
  }
  console.log("")
  console.log("=".repeat(100))
  console.log(`purchases benchmark summary (${new Date().toISOString()}, node ${process.version}, ` +
    `${QUICK ? "QUICK MODE, figures meaningless" : `${ROUNDS} rounds of ${SECONDS} s per side`}, ${CALLERS} callers, pool ${CALLERS} each, ` +
    `${fmt(CUSTOMERS)} customers)`)
  console.log(`  library: the built package (dist/), built from ${builtFrom}`)
  console.log(`  machine: ${loadAtStart} at start, ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end (other processes share it)`)
  const width = Math.max(0, ...summary.map((r) => r.label.length))
  const valueWidth = Math.max(0, ...summary.map((r) => r.value.length))
  for (const r of summary) {
    const target = r.target === undefined ? "" : `  target ${r.target.padEnd(7)} ${r.pass ? "PASS" : "MISS"}`
    console.log(`  ${r.label.padEnd(width)}  ${r.value.padEnd(valueWidth)}${target}`)
  }
  console.log(problems.length === 0 ? "  correctness: all checks passed" : `  correctness: ${problems.length} MISMATCH(ES):\n    ${problems.join("\n    ")}`)
  console.log("=".repeat(100))
  console.log(`purchases: total ${elapsed(t0)}`)
  if (failure !== undefined || problems.length > 0) {
    process.exitCode = 1
    throw new Error(`purchases benchmark: ${failure !== undefined ? "failed; " : ""}${problems.length} problem(s)`)
  }
}

export default run
