/**
 * The retail rules shared by the imports and the analytics (DOMAIN §11, §11a): VIP grades and
 * their order, the season of a business day, the shop group of a shop. Each rule lives here only:
 * the import stores a sale's season and shop group computed by these functions, and the analytics
 * group by the stored columns.
 *
 * @since 0.5.0
 */
import * as Schema from "effect/Schema"

/** The POS VIP grades, lowest first (DOMAIN §11). @since 0.5.0 */
export const GRADES = ["VIP0", "VIP1", "VIP2", "VIP3", "DIAMOND"] as const

/** A POS VIP grade. @since 0.5.0 */
export const Grade = Schema.Literal(...GRADES)
/** @since 0.5.0 */
export type Grade = typeof Grade.Type

/** `VIP0` 0 … `DIAMOND` 4: sorts the grades in their order. @since 0.5.0 */
export const gradeRank = (grade: Grade): number => GRADES.indexOf(grade)

/**
 * The grade written in a POS export (`vip1`, ` VIP1 `, `Diamond`), or `undefined` when it is none of
 * the five.
 *
 * @since 0.5.0
 */
export const parseGrade = (raw: string): Grade | undefined => {
  const upper = raw.trim().toUpperCase()
  return (GRADES as ReadonlyArray<string>).includes(upper) ? (upper as Grade) : undefined
}

/** The vip id of a non-VIP customer: left out of every grade figure (DOMAIN §11). @since 0.5.0 */
export const NON_VIP = 0

/** A season label: `SS` or `AW` and the year, e.g. `AW2026`. @since 0.5.0 */
export type Season = `${"SS" | "AW"}${number}`

/**
 * The season of a business day given as `YYYY-MM-DD`: `SS` for January–June, `AW` for July–December,
 * labelled with the day's year (`2026-06-30` → `SS2026`, `2026-07-01` → `AW2026`). The day is the
 * business-zone calendar day (an instant goes through `kernel/BusinessDay.ts` first).
 *
 * @since 0.5.0
 */
export const seasonOf = (day: string): Season => {
  const month = Number(day.slice(5, 7))
  return `${month <= 6 ? "SS" : "AW"}${Number(day.slice(0, 4))}` as Season
}

/**
 * The shop group of a shop id: its first two characters, as written (`HN01` → `HN`); a shop id of
 * fewer than two characters is its own group.
 *
 * @since 0.5.0
 */
export const shopGroupOf = (shopId: string): string => Array.from(shopId.trim()).slice(0, 2).join("")
