/**
 * What every benchmark reports with: the median of its rounds, numbers for people, and a process's
 * CPU time (to say where the time went).
 */
import { readFileSync } from "node:fs"

/** The median (the mean of the two middle values for an even count). */
export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** A whole number with thousands separators: `12,345`. */
export const fmt = (n: number): string => Math.round(n).toLocaleString("en-US")

/** User + system CPU seconds of a process so far (Linux /proc; undefined elsewhere). */
export const cpuSeconds = (pid: number | undefined): number | undefined => {
  if (pid === undefined) return undefined
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime, in USER_HZ (100 on Linux)
  } catch {
    return undefined
  }
}
