/**
 * The Express host under test as a child process: examples/express/server.ts, bundled once per run
 * with esbuild (its packages left external) and run by `node` — one process, so that SIGKILL kills
 * the server itself, and a restart takes about half the time it takes under tsx — on 127.0.0.1, on
 * one database for the whole engine run. The host keeps its port across restarts (a new one only
 * when the old one was taken meanwhile). Everything the child prints goes to a log file.
 */
import { build } from "esbuild"
import { type ChildProcess, spawn } from "node:child_process"
import { createWriteStream, mkdirSync, readFileSync, rmSync, type WriteStream } from "node:fs"
import { join } from "node:path"
import { createInterface } from "node:readline"

/**
 * Bundles examples/express/server.ts of `root` into `node_modules/.cache/customer360-soak/` (where
 * its external packages resolve from `root`'s node_modules). Resolves with the bundle's path and a
 * function that removes it.
 */
export const bundleHost = async (root: string, id: string): Promise<{ readonly entry: string; readonly remove: () => void }> => {
  const dir = join(root, "node_modules", ".cache", "customer360-soak")
  mkdirSync(dir, { recursive: true })
  const entry = join(dir, `server-${id}.mjs`)
  await build({
    entryPoints: [join(root, "examples", "express", "server.ts")],
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    outfile: entry,
    logLevel: "warning"
  })
  return { entry, remove: () => rmSync(entry, { force: true }) }
}

/** How the host is started. */
export interface HostOptions {
  /** The repository's root (the child's working directory). */
  readonly root: string
  /** The bundled server (`bundleHost`). */
  readonly entry: string
  /** `{ DATABASE_URL }` for PostgreSQL, `{ C360_SQLITE_FILE }` for SQLite. */
  readonly database: { readonly DATABASE_URL: string } | { readonly C360_SQLITE_FILE: string }
  readonly tokens: string
  /** Where the child's output is appended. */
  readonly logFile: string
}

const OUR_VARIABLES = ["DATABASE_URL", "C360_SQLITE_FILE", "PORT", "HOST", "C360_TOKENS"]

/** One host process at a time; `start` after `kill` restarts it on the same database. */
export class Host {
  /** The base URL while the host is up (`http://127.0.0.1:PORT`). */
  url: string | undefined
  starts = 0
  kills = 0
  /** Milliseconds between a kill and the restarted host listening, summed. */
  downMs = 0
  private killedAt: number | undefined
  /** Exits the soak did not cause (a crash), with their code or signal. */
  readonly crashes: Array<string> = []
  private child: ChildProcess | undefined
  private exited: Promise<void> = Promise.resolve()
  private expectingExit = false
  private port = 0
  private readonly log: WriteStream

  constructor(private readonly options: HostOptions) {
    this.log = createWriteStream(options.logFile, { flags: "a" })
  }

  /** True while a started host has not exited. */
  get up(): boolean {
    return this.child !== undefined && this.url !== undefined
  }

  /** Resolves with the URL once the host is up, or undefined if it is not by `until` (epoch ms). */
  async whenUp(until: number): Promise<string | undefined> {
    while (this.url === undefined) {
      if (Date.now() >= until) return undefined
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    return this.url
  }

  /** Starts the host and resolves once it listens; rejects (with its output's tail) if it does not within `timeoutMs`. */
  async start(timeoutMs: number): Promise<void> {
    if (this.child !== undefined) throw new Error("the host is already running")
    try {
      await this.spawnOnce(timeoutMs)
    } catch (e) {
      if (this.port !== 0 && /EADDRINUSE/.test(String(e))) {
        this.port = 0 // taken while the host was down: any free port
        await this.spawnOnce(timeoutMs)
      } else {
        throw e
      }
    }
  }

  private spawnOnce(timeoutMs: number): Promise<void> {
    const env: Record<string, string | undefined> = { ...process.env }
    for (const name of OUR_VARIABLES) delete env[name]
    Object.assign(env, this.options.database, { PORT: String(this.port), HOST: "127.0.0.1", C360_TOKENS: this.options.tokens })
    this.starts += 1
    const start = this.starts
    this.log.write(`--- start ${start} (port ${this.port || "any"}) at ${new Date().toISOString()}\n`)
    const child = spawn(process.execPath, [this.options.entry], {
      cwd: this.options.root,
      env,
      stdio: ["ignore", "pipe", "pipe"]
    })
    this.child = child
    this.expectingExit = false
    let listening = false
    const output: Array<string> = []
    const remember = (line: string) => {
      this.log.write(`[${start}] ${line}\n`)
      output.push(line)
      if (output.length > 30) output.shift()
    }
    createInterface({ input: child.stderr! }).on("line", remember)
    this.exited = new Promise<void>((resolve) => {
      child.once("exit", (code, signal) => {
        this.log.write(`--- exit ${start}: ${signal ?? code}\n`)
        if (listening && !this.expectingExit) this.crashes.push(`start ${start} exited by itself: ${signal ?? `code ${code}`}`)
        if (this.child === child) {
          this.child = undefined
          this.url = undefined
        }
        resolve()
      })
    })
    return new Promise<void>((resolve, reject) => {
      let settled = false
      const fail = (reason: string) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        this.expectingExit = true
        child.kill("SIGKILL")
        this.exited.then(() => reject(new Error(`${reason}\n${output.join("\n")}`)))
      }
      const timer = setTimeout(() => fail(`the host did not listen within ${timeoutMs} ms`), timeoutMs)
      child.once("exit", () => fail("the host exited before listening"))
      createInterface({ input: child.stdout! }).on("line", (line) => {
        remember(line)
        const m = /listening on (http:\/\/127\.0\.0\.1:(\d+))/.exec(line)
        if (m !== null && !settled) {
          settled = true
          listening = true
          clearTimeout(timer)
          this.url = m[1]!
          this.port = Number(m[2])
          if (this.killedAt !== undefined) this.downMs += Date.now() - this.killedAt
          this.killedAt = undefined
          resolve()
        }
      })
    })
  }

  /** SIGKILL, and resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.child
    if (child === undefined) return
    this.expectingExit = true
    this.url = undefined
    this.kills += 1
    this.killedAt = Date.now()
    child.kill("SIGKILL")
    await this.exited
  }

  /**
   * SIGTERM (the host's graceful shutdown); SIGKILL after `timeoutMs`. Says how it ended:
   * `"exit 0"` is the graceful end.
   */
  async stop(timeoutMs: number): Promise<string> {
    const child = this.child
    if (child === undefined) return "not running"
    this.expectingExit = true
    let how = "exit ?"
    child.once("exit", (code, signal) => (how = signal !== null ? `signal ${signal}` : `exit ${code}`))
    child.kill("SIGTERM")
    const timer = setTimeout(() => {
      how = `no exit within ${timeoutMs} ms of SIGTERM (killed)`
      child.kill("SIGKILL")
    }, timeoutMs)
    await this.exited
    clearTimeout(timer)
    return how
  }

  /** Kills a running host at once (for cleanup) and closes the log. */
  async dispose(): Promise<void> {
    if (this.child !== undefined) {
      this.expectingExit = true
      this.child.kill("SIGKILL")
      await this.exited
    }
    await new Promise<void>((resolve) => this.log.end(() => resolve()))
  }

  /** The log lines that contain `pattern`, at most `max`, each cut to 300 characters. */
  logLines(pattern: RegExp, max: number): Array<string> {
    let text = ""
    try {
      text = readFileSync(this.options.logFile, "utf8")
    } catch {
      return []
    }
    return text.split("\n").filter((l) => pattern.test(l)).slice(0, max).map((l) => l.slice(0, 300))
  }
}
