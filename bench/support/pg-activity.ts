/**
 * What a database's connections are doing while a benchmark runs: `pg_stat_activity` sampled every
 * `intervalMs` on a connection of its own, each sample sorting the database's other connections
 * into four states —
 *
 * - `lock`: running a statement that waits for a lock (a row lock another transaction holds),
 * - `active`: running a statement otherwise (working, or waiting for I/O such as the WAL flush),
 * - `client`: idle in a transaction, i.e. waiting for the client to send its next statement,
 * - `idle`: outside a transaction.
 *
 * The means over the samples say where the time of the transactions goes: at the database, on a
 * lock, or in the client (its code, its event loop, and waiting for a CPU).
 */
import pg from "pg"

export interface Activity {
  readonly samples: number
  /** mean number of connections in each state */
  readonly lock: number
  readonly active: number
  readonly client: number
  readonly idle: number
}

/** Starts sampling `database` on the server at `url` (a URL of any database there); `stop` ends it. */
export const sampleActivity = async (
  url: string,
  database: string,
  intervalMs = 200
): Promise<{ readonly stop: () => Promise<Activity> }> => {
  const client = new pg.Client({ connectionString: url, application_name: "c360-bench-sampler" })
  await client.connect()
  const totals = { samples: 0, lock: 0, active: 0, client: 0, idle: 0 }
  let running = true
  const loop = (async () => {
    try {
      while (running) {
      const started = performance.now()
      const { rows } = await client.query(`SELECT
          count(*) FILTER (WHERE state = 'active' AND wait_event_type = 'Lock') AS lock,
          count(*) FILTER (WHERE state = 'active' AND wait_event_type IS DISTINCT FROM 'Lock') AS active,
          count(*) FILTER (WHERE state LIKE 'idle in transaction%') AS client,
          count(*) FILTER (WHERE state = 'idle') AS idle
        FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'`, [database])
      const r = rows[0] as Record<"lock" | "active" | "client" | "idle", string>
      totals.samples++
      totals.lock += Number(r.lock)
      totals.active += Number(r.active)
      totals.client += Number(r.client)
      totals.idle += Number(r.idle)
      const wait = intervalMs - (performance.now() - started)
      if (wait > 0) await new Promise((done) => setTimeout(done, wait))
      }
    } catch {
      // the database went away: the samples so far stand
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop.catch(() => undefined)
      await client.end().catch(() => undefined)
      const n = Math.max(1, totals.samples)
      return { samples: totals.samples, lock: totals.lock / n, active: totals.active / n, client: totals.client / n, idle: totals.idle / n }
    }
  }
}

/** `lock 15.0, active 0.6, in the client 0.4, idle 0.0 (of 16 connections)`. */
export const describeActivity = (a: Activity): string =>
  `on a lock ${a.lock.toFixed(1)}, active ${a.active.toFixed(1)}, waiting for the client ${a.client.toFixed(1)}, ` +
  `idle ${a.idle.toFixed(1)} (mean connections, ${a.samples} samples)`
