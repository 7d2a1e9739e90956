/**
 * Business days: the calendar of the configured time zone (DOMAIN, preamble), as whole numbers.
 *
 * A business day is the number of days from 1970-01-01 to the instant's calendar date **in the
 * zone** — so two instants on the same date in Hanoi have the same day, whatever their UTC date, and
 * "days since the last purchase" is a subtraction of two integers (DOMAIN §6: a purchase at 23:30
 * in Hanoi yesterday is 1 day ago at 00:10 today). Stored next to an instant (`business_day`
 * columns), it lets SQL on every engine count calendar days without time-zone functions.
 *
 * @since 0.3.0
 */
import { TZDate } from "@date-fns/tz"

const DAY_MS = 86_400_000

const formats = new Map<string, Intl.DateTimeFormat>()
const formatOf = (timeZone: string): Intl.DateTimeFormat => {
  let format = formats.get(timeZone)
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", { timeZone, year: "numeric", month: "numeric", day: "numeric" })
    formats.set(timeZone, format)
  }
  return format
}

/**
 * The business day of an instant: days from 1970-01-01 to its calendar date in `timeZone`.
 *
 * @since 0.3.0
 */
export const businessDay = (epochMillis: number, timeZone: string): number => {
  let year = 0
  let month = 0
  let day = 0
  for (const part of formatOf(timeZone).formatToParts(new Date(epochMillis))) {
    if (part.type === "year") year = Number(part.value)
    else if (part.type === "month") month = Number(part.value)
    else if (part.type === "day") day = Number(part.value)
  }
  return Math.round(Date.UTC(year, month - 1, day) / DAY_MS)
}

/**
 * The calendar date (`YYYY-MM-DD`) of a business day.
 *
 * @since 0.3.0
 */
export const dayToDate = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10)

/**
 * The business day of a calendar date (`YYYY-MM-DD`).
 *
 * @since 0.3.0
 */
export const dateToDay = (date: string): number => Math.round(Date.parse(`${date}T00:00:00Z`) / DAY_MS)

/**
 * The first business day of the month that `day` falls in.
 *
 * @since 0.3.0
 */
export const monthStart = (day: number): number => {
  const d = new Date(day * DAY_MS)
  return Math.round(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / DAY_MS)
}

/**
 * The instant a business day begins: midnight of its date in `timeZone`.
 *
 * @since 0.3.0
 */
export const dayStart = (day: number, timeZone: string): number => {
  const d = new Date(day * DAY_MS)
  return new TZDate(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), 0, 0, 0, timeZone).getTime()
}
