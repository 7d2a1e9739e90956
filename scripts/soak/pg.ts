/**
 * PostgreSQL for the soak: a fresh database per run on the server of `C360_PG_URL` (loopback
 * only), dropped afterwards, and the fault injector that terminates the host's backends.
 */
import pg from "pg"
import { type Random, sleep } from "./random.js"

/** `url` with its database replaced by `database`. */
export const withDatabase = (url: string, database: string): string => {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

/** Throws unless `url` names a server on this machine's loopback interface: the soak talks to 127.0.0.1 only. */
export const assertLoopback = (url: string): void => {
  const host = new URL(url).hostname
  if (!["127.0.0.1", "localhost", "[::1]", "::1"].includes(host)) {
    throw new Error(`C360_PG_URL must point at 127.0.0.1 (the soak terminates backends and drops databases); got host ${host}`)
  }
}

const connect = async (url: string): Promise<pg.Client> => {
  const client = new pg.Client({ connectionString: url, application_name: "c360-soak", connectionTimeoutMillis: 5_000 })
  client.on("error", () => undefined)
  await client.connect()
  return client
}

/** A database of the soak's own. */
export interface TempDatabase {
  readonly name: string
  readonly url: string
  /** Drops it (`WITH (FORCE)`: the host's connections are closed); runs once however often it is called. */
  readonly drop: () => Promise<void>
}

/** Creates an empty database `c360_soak_<id>` on the server of `serverUrl`. */
export const createTempDatabase = async (serverUrl: string, id: string): Promise<TempDatabase> => {
  const name = `c360_soak_${id.replace(/[^a-z0-9]/g, "")}`
  const admin = await connect(serverUrl)
  try {
    await admin.query(`CREATE DATABASE ${name}`)
  } finally {
    await admin.end().catch(() => undefined)
  }
  let dropping: Promise<void> | undefined
  return {
    name,
    url: withDatabase(serverUrl, name),
    drop: () =>
      dropping ??= (async () => {
        const c = await connect(serverUrl)
        try {
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        } finally {
          await c.end().catch(() => undefined)
        }
      })()
  }
}

/**
 * Terminates backends of the host (`application_name = 'customer360'` in `database` only: never
 * another database's) from an admin connection of its own, at random moments until `stop`.
 */
export class Terminator {
  rounds = 0
  storms = 0
  terminated = 0
  /** Why it stopped early (its admin connection failed), if it did. */
  error: string | undefined
  private running: Promise<void> | undefined
  private stopped = false

  constructor(
    private readonly serverUrl: string,
    private readonly database: string,
    private readonly random: Random,
    private readonly hostUp: () => boolean
  ) {}

  /**
   * Starts terminating: every 0.2–1.5 s a round — each of the host's backends with probability ½
   * (at least one) — and one round in five a storm: all of them, five times, 30–80 ms apart (longer
   * than the library's own retries of a broken connection last).
   */
  start(): void {
    this.running = (async () => {
      const admin = await connect(this.serverUrl)
      const round = async (all: boolean) => {
        const rows = await admin.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'customer360' AND pid <> pg_backend_pid()`,
          [this.database]
        )
        if (rows.rows.length === 0) return
        let victims = all ? rows.rows : rows.rows.filter(() => this.random.chance(0.5))
        if (victims.length === 0) victims = [this.random.pick(rows.rows)]
        this.rounds += 1
        const r = await admin.query<{ ok: boolean }>(
          `SELECT pg_terminate_backend(pid) AS ok FROM unnest($1::int[]) AS pid`,
          [victims.map((v) => v.pid)]
        )
        this.terminated += r.rows.filter((row) => row.ok === true).length
      }
      try {
        while (!this.stopped) {
          await sleep(this.random.int(200, 1_500))
          if (this.stopped) break
          if (!this.hostUp()) continue
          if (this.random.chance(0.2)) {
            this.storms += 1
            for (let i = 0; i < 5 && !this.stopped && this.hostUp(); i++) {
              await round(true)
              await sleep(this.random.int(30, 80))
            }
          } else {
            await round(false)
          }
        }
      } finally {
        await admin.end().catch(() => undefined)
      }
    })().catch((e) => {
      this.error = e instanceof Error ? e.message : String(e)
    })
  }

  /** Stops, and resolves once the current round is done. */
  async stop(): Promise<void> {
    this.stopped = true
    await this.running
  }
}
