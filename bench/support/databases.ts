/**
 * The PostgreSQL databases of a benchmark run: created under one run id, dropped at the end (also
 * on failure or Ctrl-C, by the caller's handlers), through short-lived admin connections.
 */
import pg from "pg"

/** `url` with its database replaced. */
export const withDatabase = (url: string, database: string): string => {
  const u = new URL(url)
  u.pathname = `/${database}`
  return u.toString()
}

export interface BenchDatabases {
  /** Runs `f` on a new connection to `database` (default: the server URL's own), then closes it. */
  readonly admin: <A>(f: (client: pg.Client) => Promise<A>, database?: string) => Promise<A>
  /** Checks the server answers and remembers its version; the error message when it does not. */
  readonly reachable: () => Promise<string | null>
  /** A new database; a copy of `template` (file copy on PostgreSQL ≥ 15, much faster than WAL-logging it). */
  readonly create: (suffix: string, template?: string) => Promise<string>
  /** Drops one database `create` made. */
  readonly drop: (name: string) => Promise<void>
  /** Drops every database `create` made, newest first; runs once however often it is called. */
  readonly dropAll: () => Promise<void>
}

/** Databases named `<prefix>_<run id><suffix>` on the server at `url`; `label` prefixes the log lines. */
export const benchDatabases = (url: string, prefix: string, label: string): BenchDatabases => {
  const runId = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
  const created: Array<string> = []
  let serverVersion = 0
  let dropping: Promise<void> | undefined

  const admin = async <A>(f: (client: pg.Client) => Promise<A>, database?: string): Promise<A> => {
    const client = new pg.Client({
      connectionString: database === undefined ? url : withDatabase(url, database),
      connectionTimeoutMillis: 5_000
    })
    await client.connect()
    try {
      return await f(client)
    } finally {
      await client.end()
    }
  }

  return {
    admin,
    reachable: async () => {
      try {
        serverVersion = await admin(async (c) => Number((await c.query("SHOW server_version_num")).rows[0].server_version_num))
        return null
      } catch (e) {
        return e instanceof Error ? e.message : String(e)
      }
    },
    create: async (suffix, template) => {
      const name = `${prefix}_${runId}${suffix}`
      const copy = template === undefined ? "" : ` TEMPLATE ${template}${serverVersion >= 150000 ? " STRATEGY = FILE_COPY" : ""}`
      await admin((c) => c.query(`CREATE DATABASE ${name}${copy}`))
      created.push(name)
      return name
    },
    drop: async (name) => {
      await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
      created.splice(created.indexOf(name), 1)
    },
    dropAll: () =>
      (dropping ??= (async () => {
        for (const name of [...created].reverse()) {
          try {
            await admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
            console.log(`${label}: dropped database ${name}`)
          } catch (e) {
            console.error(`${label}: could not drop database ${name}: ${String(e)}`)
          }
        }
        created.length = 0
      })())
  }
}
