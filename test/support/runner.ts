/**
 * Starts `examples/jobs/runner.ts` as a real process (through tsx, as `npm run jobs` does) and
 * collects its output.
 */
import { type ChildProcess, spawn } from "node:child_process"

export interface Finished {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface Runner {
  readonly child: ChildProcess
  /** Everything written to stdout so far. */
  readonly stdout: () => string
  readonly finished: Promise<Finished>
}

/** Starts the runner with `args` and `env` (added to this process's environment). */
export const spawnRunner = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Runner => {
  const child = spawn(process.execPath, ["--import", "tsx", "examples/jobs/runner.ts", ...args], {
    cwd: new URL("../..", import.meta.url).pathname,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (d) => (stdout += d))
  child.stderr!.on("data", (d) => (stderr += d))
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
  const finished = new Promise<Finished>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
  return { child, stdout: () => stdout, finished }
}

/** Runs the runner to its end. */
export const runRunner = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Finished> =>
  spawnRunner(args, env).finished

/** The run lines (`job=… status=…`) of a runner's output, with their `key=value` fields. */
export const runLines = (stdout: string) =>
  stdout.split("\n").filter((l) => / job=\S+ status=/.test(l)).map((line) => ({
    line,
    fields: Object.fromEntries([...line.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((m) => [m[1]!, m[2]!]))
  }))
