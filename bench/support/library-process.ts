/**
 * The library in a Node process of its own, as a job runner runs it: plain `node` (no TypeScript
 * loader) importing the built package (`dist/index.js`), one facade instance, driven over IPC by the
 * benchmark. What it is for: the peak resident set size of a process that runs the library and
 * nothing else — the kernel's high-water mark of its memory (`VmHWM` of /proc/self/status, reset
 * before each call through /proc/self/clear_refs), exact, not sampled — undisturbed by the
 * benchmark's own work (a data load through better-sqlite3 leaves its page cache's memory with the
 * process that ran it; the TypeScript loader alone adds ~70 MB). Not `ru_maxrss`: Linux carries
 * it across exec, so a child reports at least its parent's RSS at the fork.
 *
 * `call("rfm.recompute", [options])` runs one facade operation and answers its result, the time it
 * took inside the process (ms, `performance.now()` around the call) and the process's RSS before it
 * and its peak so far.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const CHILD = `
const { createCustomer360 } = await import(process.env.C360_DIST_INDEX)
const now = process.env.C360_NOW
const c360 = await createCustomer360({ database: JSON.parse(process.env.C360_DATABASE), ...(now ? { now: () => new Date(Number(now)) } : {}) })
const { readFileSync, writeFileSync } = await import("node:fs")
// The peak RSS of this process's own memory: VmHWM (ru_maxrss would count the benchmark's RSS at
// the fork that started this process: Linux keeps it across exec). Writing 5 to clear_refs resets
// the peak to the RSS now, so that a call's peak is its own.
const hwm = () => {
  try {
    const m = /VmHWM:\\s+(\\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))
    if (m) return Number(m[1]) * 1024
  } catch {}
  return process.resourceUsage().maxRSS * 1024
}
let peak = 0
const resetPeak = () => {
  peak = Math.max(peak, hwm())
  try { writeFileSync("/proc/self/clear_refs", "5") } catch {}
}
const maxRss = () => (peak = Math.max(peak, hwm()))
process.send({ type: "ready", rss: process.memoryUsage.rss(), maxRss: maxRss() })
process.on("message", async (m) => {
  if (m.type === "close") {
    await c360.close()
    process.send({ type: "closed", maxRss: maxRss() }, () => process.disconnect())
    return
  }
  const [ns, fn] = m.path.split(".")
  resetPeak()
  const rssBefore = process.memoryUsage.rss()
  const t = performance.now()
  try {
    const result = await c360[ns][fn](...m.args)
    const ms = performance.now() - t
    const callPeak = hwm()
    process.send({ type: "done", id: m.id, ms, result, rssBefore, callPeak, maxRss: maxRss() })
  } catch (e) {
    process.send({ type: "failed", id: m.id, message: String(e && e.message ? e.message : e) })
  }
})
`

export interface CallResult<A> {
  readonly result: A
  /** time of the call inside the process */
  readonly ms: number
  /** the process's RSS just before the call, its peak during the call, and its peak so far (bytes) */
  readonly rssBefore: number
  readonly callPeak: number
  readonly maxRss: number
}

export interface LibraryProcess {
  /** RSS of the process once the library is loaded and its instance made */
  readonly readyRss: number
  readonly call: <A>(path: string, args: ReadonlyArray<unknown>) => Promise<CallResult<A>>
  /** Closes the instance and ends the process; its peak RSS over its whole life. */
  readonly close: () => Promise<number>
}

type Message =
  | { type: "ready"; rss: number; maxRss: number }
  | { type: "done"; id: number; ms: number; result: unknown; rssBefore: number; callPeak: number; maxRss: number }
  | { type: "failed"; id: number; message: string }
  | { type: "closed"; maxRss: number }

/** Starts the process with a facade over `database` (`createCustomer360`'s option), its clock at `now` if given. */
export const startLibraryProcess = async (database: unknown, now?: number): Promise<LibraryProcess> => {
  const index = new URL("../../dist/index.js", import.meta.url)
  if (!existsSync(fileURLToPath(index))) throw new Error("dist/index.js is missing: run npm run build (npm run bench does)")
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD], {
    env: { ...process.env, C360_DIST_INDEX: index.href, C360_DATABASE: JSON.stringify(database), C360_NOW: now === undefined ? "" : String(now) },
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  const waiting = new Map<number, { resolve: (m: Message) => void; reject: (e: Error) => void }>()
  let onReady: ((m: Message) => void) | undefined
  let onClosed: ((m: Message) => void) | undefined
  let exited: Error | undefined
  child.on("message", (m: Message) => {
    if (m.type === "ready") onReady?.(m)
    else if (m.type === "closed") onClosed?.(m)
    else waiting.get(m.id)?.resolve(m)
  })
  child.on("exit", (code, signal) => {
    exited = new Error(`the library process exited (code ${code}, signal ${signal})`)
    for (const w of waiting.values()) w.reject(exited)
    waiting.clear()
  })
  const ready = await new Promise<Message>((resolve, reject) => {
    onReady = resolve
    child.once("exit", () => reject(exited))
  })
  let next = 0
  return {
    readyRss: (ready as { rss: number }).rss,
    call: <A>(path: string, args: ReadonlyArray<unknown>) =>
      new Promise<CallResult<A>>((resolve, reject) => {
        if (exited !== undefined) return reject(exited)
        const id = next++
        waiting.set(id, {
          resolve: (m) => {
            waiting.delete(id)
            if (m.type === "done") resolve({ result: m.result as A, ms: m.ms, rssBefore: m.rssBefore, callPeak: m.callPeak, maxRss: m.maxRss })
            else reject(new Error(`${path} failed in the library process: ${(m as { message?: string }).message}`))
          },
          reject
        })
        child.send({ type: "call", id, path, args })
      }),
    close: () =>
      new Promise<number>((resolve, reject) => {
        if (exited !== undefined) return reject(exited)
        onClosed = (m) => resolve((m as { maxRss: number }).maxRss)
        child.once("exit", () => reject(exited))
        child.send({ type: "close" })
      })
  }
}
