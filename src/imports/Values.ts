/**
 * The value rules of a POS import (DOMAIN §11a, docs/imports.md "Validation"): how one cell of a CSV
 * or XLSX file becomes a stored value — money in whole đồng, integers, business days and instants,
 * phones, VIP grades, 0/1 flags and text. Each rule is pure and answers either the value or an
 * {@link Invalid} saying why, which the import reports as the row's failure.
 *
 * @since 0.5.0
 */
import { TZDate } from "@date-fns/tz"
import * as Either from "effect/Either"
import * as Phone from "../kernel/Phone.js"
import type { Cell } from "../platform/files/Source.js"
import { type Grade, parseGrade } from "./Retail.js"

/**
 * Why a cell was refused (the report's `reason`).
 *
 * @since 0.5.0
 */
export class Invalid {
  constructor(readonly reason: string) {}
}

/** @since 0.5.0 */
export const isInvalid = (u: unknown): u is Invalid => u instanceof Invalid

/**
 * The cell as trimmed text: a number as JavaScript writes it, a boolean as `true`/`false`, `null`
 * and blanks as `""`.
 *
 * @since 0.5.0
 */
export const cellText = (cell: Cell | undefined): string =>
  cell === null || cell === undefined ? "" : typeof cell === "string" ? cell.trim() : String(cell)

/** Whether the cell is empty (absent, `null`, or only blanks). @since 0.5.0 */
export const isEmpty = (cell: Cell | undefined): boolean => cellText(cell) === ""

/** The cell as text, `null` when empty. @since 0.5.0 */
export const text = (cell: Cell | undefined): string | null => {
  const t = cellText(cell)
  return t === "" ? null : t
}

const DIGITS = /^\d+$/
const PLAIN = /^\d{1,15}$/
const GROUPED = /^\d{1,3}(?:[.,]\d{3})+$/

/**
 * Whole đồng: an integer with optional thousands separators and an optional zero fraction.
 * Accepted: `1234000`, `1.234.000`, `1,234,000`, `1 234 000`, `1234000.00`, `1.234.000,00`,
 * `1,234,000.00`, a leading `-` (when `signed`) or `+`, and a trailing `₫`, `đ` or `VND`. With one
 * kind of separator only, it groups thousands when every group after the first has three digits
 * (`1.234` is 1,234 đồng — đồng have no subunit and POS exports group thousands); otherwise the
 * last separator starts a fraction (`1234.5`, `0.500`), which must be zero. With both, the last one
 * starts the fraction. An XLSX number must be an integer. The value must be a safe integer.
 *
 * @since 0.5.0
 */
export const money = (cell: Cell | undefined, options: { readonly signed: boolean }): number | Invalid => {
  if (typeof cell === "number") {
    if (!Number.isFinite(cell)) return new Invalid("is not a number")
    if (!Number.isInteger(cell)) return new Invalid("has a fraction of a đồng")
    if (!Number.isSafeInteger(cell)) return new Invalid("is too large")
    if (cell < 0 && !options.signed) return new Invalid("must not be negative")
    return cell === 0 ? 0 : cell
  }
  if (typeof cell === "string" && PLAIN.test(cell)) {
    const plain = Number(cell)
    if (Number.isSafeInteger(plain)) return plain
  }
  let s = cellText(cell).replace(/[\s\u00a0\u202f]/g, "")
  if (s === "") return new Invalid("is empty")
  s = s.replace(/(?:₫|đ|VND)$/i, "")
  let negative = false
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s.startsWith("-")
    s = s.slice(1)
  }
  if (s === "" || !/^[\d.,]+$/.test(s)) return new Invalid("is not an amount of đồng")
  let whole: string
  let fraction = ""
  const lastDot = s.lastIndexOf(".")
  const lastComma = s.lastIndexOf(",")
  if (lastDot >= 0 && lastComma >= 0) {
    const decimal = lastDot > lastComma ? "." : ","
    const at = Math.max(lastDot, lastComma)
    whole = s.slice(0, at)
    fraction = s.slice(at + 1)
    if (!GROUPED.test(whole) || whole.includes(decimal) || !DIGITS.test(fraction)) return new Invalid("is not an amount of đồng")
  } else if (lastDot >= 0 || lastComma >= 0) {
    const sep = lastDot >= 0 ? "." : ","
    const parts = s.split(sep)
    if (GROUPED.test(s) && !(parts.length === 2 && parts[0] === "0")) {
      whole = s
    } else if (parts.length === 2 && DIGITS.test(parts[0]!) && DIGITS.test(parts[1]!)) {
      whole = parts[0]!
      fraction = parts[1]!
    } else {
      return new Invalid("is not an amount of đồng")
    }
  } else {
    whole = s
  }
  if (/[1-9]/.test(fraction)) return new Invalid("has a fraction of a đồng")
  const digits = whole.replace(/[.,]/g, "")
  if (!DIGITS.test(digits)) return new Invalid("is not an amount of đồng")
  const value = Number(digits)
  if (!Number.isSafeInteger(value)) return new Invalid("is too large")
  if (negative && value !== 0 && !options.signed) return new Invalid("must not be negative")
  return negative && value !== 0 ? -value : value
}

/**
 * An integer (a count, points): the same forms as {@link money}, within `[min, max]` when given.
 *
 * @since 0.5.0
 */
export const integer = (
  cell: Cell | undefined,
  options: { readonly min?: number | undefined; readonly max?: number | undefined } = {}
): number | Invalid => {
  const value = money(cell, { signed: true })
  if (isInvalid(value)) return value.reason === "has a fraction of a đồng" ? new Invalid("is not a whole number") : value.reason === "is not an amount of đồng" ? new Invalid("is not a whole number") : value
  if (options.min !== undefined && value < options.min) return new Invalid(`must be at least ${options.min}`)
  if (options.max !== undefined && value > options.max) return new Invalid(`must be at most ${options.max}`)
  return value
}

/**
 * An identifier number (a vip id, a member id): digits only (an XLSX integer), non-negative, safe.
 *
 * @since 0.5.0
 */
export const id = (cell: Cell | undefined): number | Invalid => {
  if (typeof cell === "number") {
    return Number.isSafeInteger(cell) && cell >= 0 ? (cell === 0 ? 0 : cell) : new Invalid("is not a non-negative whole number")
  }
  const s = cellText(cell)
  if (s === "") return new Invalid("is empty")
  if (!DIGITS.test(s)) return new Invalid("is not a non-negative whole number")
  const value = Number(s)
  return Number.isSafeInteger(value) ? value : new Invalid("is too large")
}

/**
 * A business day with the instant it stands for: `day` is `YYYY-MM-DD` in the business zone; `at`
 * the instant (epoch ms) — the day's start in the zone when only a date was given.
 *
 * @since 0.5.0
 */
export interface When {
  readonly day: string
  readonly at: number
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
const validDate = (y: number, m: number, d: number): boolean => {
  if (y < 1900 || y > 9999 || m < 1 || m > 12 || d < 1) return false
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0
  return d <= (m === 2 && leap ? 29 : MONTH_DAYS[m - 1]!)
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0")

const ISO = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?)?$/i
const DMY = /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$/

const BUCKET_MS = 15 * 60_000
const offsets = new Map<string, Map<number, number>>()
const partsFormats = new Map<string, Intl.DateTimeFormat>()

/**
 * The zone's offset from UTC (ms) at an instant, cached by quarter hour (offsets only ever change
 * on a quarter hour): an import parses a million dates without a time-zone lookup each.
 */
const offsetAt = (instant: number, timeZone: string): number => {
  let cache = offsets.get(timeZone)
  if (cache === undefined) {
    cache = new Map()
    offsets.set(timeZone, cache)
  }
  const bucket = Math.floor(instant / BUCKET_MS)
  const hit = cache.get(bucket)
  if (hit !== undefined) return hit
  let format = partsFormats.get(timeZone)
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric"
    })
    partsFormats.set(timeZone, format)
  }
  const at = bucket * BUCKET_MS
  const p: Record<string, number> = {}
  for (const part of format.formatToParts(new Date(at))) if (part.type !== "literal") p[part.type] = Number(part.value)
  const offset = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!) - at
  if (cache.size > 100_000) cache.clear()
  cache.set(bucket, offset)
  return offset
}

/** The instant of a wall-clock time in `timeZone` (in a gap of a DST change, as `TZDate` does: shifted forward). */
const local = (y: number, m: number, d: number, hh: number, mm: number, ss: number, ms: number, timeZone: string): number => {
  const wall = Date.UTC(y, m - 1, d, hh, mm, ss, ms)
  const guess = wall - offsetAt(wall, timeZone)
  const offset = offsetAt(guess, timeZone)
  if (offset === offsetAt(wall - offset, timeZone)) return wall - offset
  return new TZDate(y, m - 1, d, hh, mm, ss, ms, timeZone).getTime()
}

/** The business day (`YYYY-MM-DD`) of an instant. */
const dayOf = (instant: number, timeZone: string): string =>
  new Date(instant + offsetAt(instant, timeZone)).toISOString().slice(0, 10)

/** Excel's day 0 (serial 0 is 1899-12-30, which keeps the 1900 leap-year bug out of every date after February 1900). */
const EXCEL_EPOCH = Date.UTC(1899, 11, 30)

/**
 * A date or a date and time (DOMAIN §11a): `YYYY-MM-DD`, `DD/MM/YYYY` (also `D/M/YYYY`), either with
 * a time (`2026-06-30 23:30`, `2026-06-30T23:30:00`, `30/06/2026 23:30`) — a time without an
 * offset is a wall-clock time in the business zone — or an ISO instant with `Z` or an offset
 * (`2026-06-30T17:10:00Z` is 1 July 2026 in Hanoi), and, from an XLSX cell, an Excel serial number
 * (its fraction the time of day, in the business zone). Years 1900–9999.
 *
 * @since 0.5.0
 */
export const when = (cell: Cell | undefined, timeZone: string): When | Invalid => {
  if (typeof cell === "number") {
    if (!Number.isFinite(cell) || cell < 1 || cell >= 2_958_466) return new Invalid("is not a date (an Excel serial day out of range)")
    const wall = new Date(EXCEL_EPOCH + Math.round(cell * 86_400_000))
    const y = wall.getUTCFullYear()
    const m = wall.getUTCMonth() + 1
    const d = wall.getUTCDate()
    return {
      day: `${pad(y, 4)}-${pad(m)}-${pad(d)}`,
      at: local(y, m, d, wall.getUTCHours(), wall.getUTCMinutes(), wall.getUTCSeconds(), wall.getUTCMilliseconds(), timeZone)
    }
  }
  const s = cellText(cell)
  if (s === "") return new Invalid("is empty")
  // the dates of a file repeat: a date without a time is parsed once per zone
  const cacheKey = s.length <= 10 ? `${timeZone} ${s}` : undefined
  if (cacheKey !== undefined) {
    const hit = dates.get(cacheKey)
    if (hit !== undefined) return hit
    const parsed = parseWhen(s, timeZone)
    if (dates.size > 10_000) dates.clear()
    dates.set(cacheKey, parsed)
    return parsed
  }
  return parseWhen(s, timeZone)
}

const dates = new Map<string, When | Invalid>()

const parseWhen = (s: string, timeZone: string): When | Invalid => {
  let y: number, m: number, d: number, hh = 0, mm = 0, ss = 0, ms = 0
  let offset: string | undefined
  let timed = false
  const iso = ISO.exec(s)
  if (iso !== null) {
    y = Number(iso[1])
    m = Number(iso[2])
    d = Number(iso[3])
    if (iso[4] !== undefined) {
      timed = true
      hh = Number(iso[4])
      mm = Number(iso[5])
      ss = iso[6] === undefined ? 0 : Number(iso[6])
      ms = iso[7] === undefined ? 0 : Math.floor(Number(`0.${iso[7]}`) * 1000)
      offset = iso[8]
    }
  } else {
    const dmy = DMY.exec(s)
    if (dmy === null) return new Invalid("is not a date (YYYY-MM-DD or DD/MM/YYYY)")
    d = Number(dmy[1])
    m = Number(dmy[2])
    y = Number(dmy[3])
    if (dmy[4] !== undefined) {
      timed = true
      hh = Number(dmy[4])
      mm = Number(dmy[5])
      ss = dmy[6] === undefined ? 0 : Number(dmy[6])
    }
  }
  if (!validDate(y, m, d)) return new Invalid("is not a date of the calendar")
  if (timed && (hh > 23 || mm > 59 || ss > 59)) return new Invalid("is not a time of day")
  if (offset !== undefined) {
    let offsetMs = 0
    if (offset.toUpperCase() !== "Z") {
      const sign = offset.startsWith("-") ? -1 : 1
      const digits = offset.slice(1).replace(":", "")
      const oh = Number(digits.slice(0, 2))
      const om = Number(digits.slice(2, 4))
      if (oh > 14 || om > 59) return new Invalid("has an offset that is not one")
      offsetMs = sign * (oh * 60 + om) * 60_000
    }
    const at = Date.UTC(y, m - 1, d, hh, mm, ss, ms) - offsetMs
    return { day: dayOf(at, timeZone), at }
  }
  return { day: `${pad(y, 4)}-${pad(m)}-${pad(d)}`, at: local(y, m, d, hh, mm, ss, ms, timeZone) }
}

/**
 * A phone as the POS wrote it, and its canonical form by DOMAIN §1 (`null` when it does not
 * normalise). An XLSX number lost its leading zero: a 9-digit number gets it back.
 *
 * @since 0.5.0
 */
export interface PhoneValue {
  readonly raw: string
  readonly canonical: string | null
  /** Why it did not normalise, when it did not. */
  readonly problem: string | null
}

/** @since 0.5.0 */
export const phone = (cell: Cell | undefined, policy?: Phone.PhonePolicy): PhoneValue => {
  let raw = cellText(cell)
  if (typeof cell === "number" && Number.isInteger(cell) && raw.length === 9) raw = `0${raw}`
  const result = Phone.normalize(raw, policy)
  return Either.isRight(result)
    ? { raw, canonical: result.right, problem: null }
    : { raw, canonical: null, problem: result.left.message }
}

/**
 * A VIP grade (`VIP0` … `DIAMOND`, any case, trimmed).
 *
 * @since 0.5.0
 */
export const grade = (cell: Cell | undefined): Grade | Invalid => {
  const g = parseGrade(cellText(cell))
  return g === undefined ? new Invalid("is not a VIP grade (VIP0, VIP1, VIP2, VIP3, DIAMOND)") : g
}

/**
 * A 0/1 flag: `0`/`1` (also `true`/`false`, `yes`/`no`, an XLSX boolean).
 *
 * @since 0.5.0
 */
export const flag = (cell: Cell | undefined): 0 | 1 | Invalid => {
  if (typeof cell === "boolean") return cell ? 1 : 0
  if (typeof cell === "number") return cell === 1 ? 1 : cell === 0 ? 0 : new Invalid("is not 0 or 1")
  const s = cellText(cell).toLowerCase()
  if (s === "1" || s === "true" || s === "yes") return 1
  if (s === "0" || s === "false" || s === "no") return 0
  return new Invalid("is not 0 or 1")
}
