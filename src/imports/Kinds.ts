/**
 * The three kinds of POS import (DOMAIN §11, §11a, docs/imports.md "Columns"): their default
 * columns (the POS export's names), which are required, how the file's header is matched to them
 * (trimmed, case-insensitive, with a mapping), and how one record becomes the row stored — its key,
 * its derived columns (phone key, season, shop group) and its fingerprint — or the failure reported.
 *
 * @since 0.5.0
 */
import * as Schema from "effect/Schema"
import type * as Phone from "../kernel/Phone.js"
import type { Cell } from "../platform/files/Source.js"
import { fingerprintOf } from "./KeySet.js"
import { seasonOf, shopGroupOf } from "./Retail.js"
import * as V from "./Values.js"

/** The kinds of import. @since 0.5.0 */
export const KINDS = ["customers", "sales", "coupons"] as const
/** @since 0.5.0 */
export const ImportKind = Schema.Literal(...KINDS)
/** @since 0.5.0 */
export type ImportKind = typeof ImportKind.Type

type ColumnType =
  | "text"
  | "id"
  | "int"
  | "month"
  | "money"
  | "signedMoney"
  | "day"
  | "instant"
  | "phone"
  | "grade"
  | "flag"

interface ColumnSpec {
  readonly name: string
  readonly type: ColumnType
  readonly required: boolean
}

const col = (name: string, type: ColumnType = "text", required = false): ColumnSpec => ({ name, type, required })

/**
 * Each kind's columns in the POS export's order; `required` ones must be in the header (else the
 * import fails before writing anything) and must not be empty in a row.
 *
 * @since 0.5.0
 */
export const COLUMNS: Readonly<Record<ImportKind, ReadonlyArray<ColumnSpec>>> = {
  customers: [
    col("vip_id", "id", true),
    col("id_number"),
    col("birthday_month", "month"),
    col("vip_grade", "grade"),
    col("name"),
    col("phone", "phone", true),
    col("race"),
    col("gender"),
    col("birthday", "day"),
    col("city_state"),
    col("postal_code"),
    col("country"),
    col("email"),
    col("contact_address"),
    col("registration_store"),
    col("registration_date", "day"),
    col("points", "int")
  ],
  sales: [
    col("invoice_number", "text", true),
    col("shop_id", "text", true),
    col("shop_name"),
    col("country"),
    col("bu"),
    col("sales_date", "instant", true),
    col("vip_id", "id", true),
    col("vip_name"),
    col("quantity", "int"),
    col("settlement_amount", "signedMoney"),
    col("sales_amount", "signedMoney", true),
    col("tag_amount", "signedMoney"),
    col("per_customer_transaction", "signedMoney"),
    col("discount", "signedMoney"),
    col("rounding", "signedMoney")
  ],
  coupons: [
    col("department"),
    col("creator"),
    col("document_number"),
    col("coupon_id", "text", true),
    col("face_value", "money", true),
    col("used", "flag", true),
    col("begin_date", "day"),
    col("end_date", "day"),
    col("using_shop"),
    col("using_date", "day"),
    col("push"),
    col("member_id", "id"),
    col("member_name"),
    col("member_phone", "phone"),
    col("docket_number")
  ]
}

/** The columns of each kind's table an import writes (besides the bookkeeping), and their SQL type. @since 0.5.0 */
export const STORED: Readonly<Record<ImportKind, ReadonlyArray<readonly [string, "text" | "bigint"]>>> = {
  customers: [
    ["vip_id", "bigint"],
    ["phone_key", "text"],
    ["phone", "text"],
    ["phone_raw", "text"],
    ["id_number", "text"],
    ["birthday_month", "bigint"],
    ["vip_grade", "text"],
    ["name", "text"],
    ["race", "text"],
    ["gender", "text"],
    ["birthday", "text"],
    ["city_state", "text"],
    ["postal_code", "text"],
    ["country", "text"],
    ["email", "text"],
    ["contact_address", "text"],
    ["registration_store", "text"],
    ["registration_date", "text"],
    ["points", "bigint"],
    ["customer_id", "text"]
  ],
  sales: [
    ["invoice_number", "text"],
    ["shop_id", "text"],
    ["shop_group", "text"],
    ["shop_name", "text"],
    ["country", "text"],
    ["bu", "text"],
    ["sales_date", "text"],
    ["sales_at", "bigint"],
    ["season", "text"],
    ["vip_id", "bigint"],
    ["vip_name", "text"],
    ["quantity", "bigint"],
    ["settlement_amount", "bigint"],
    ["sales_amount", "bigint"],
    ["tag_amount", "bigint"],
    ["per_customer_transaction", "bigint"],
    ["discount", "bigint"],
    ["rounding", "bigint"],
    ["customer_id", "text"],
    ["purchase_reference", "text"]
  ],
  coupons: [
    ["coupon_id", "text"],
    ["department", "text"],
    ["creator", "text"],
    ["document_number", "text"],
    ["face_value", "bigint"],
    ["used", "bigint"],
    ["begin_date", "text"],
    ["end_date", "text"],
    ["using_shop", "text"],
    ["shop_group", "text"],
    ["using_date", "text"],
    ["season", "text"],
    ["push", "text"],
    ["member_id", "bigint"],
    ["member_name", "text"],
    ["member_phone_raw", "text"],
    ["member_phone", "text"],
    ["docket_number", "text"]
  ]
}

/** Each kind's key columns in its table. @since 0.5.0 */
export const KEYS: Readonly<Record<ImportKind, ReadonlyArray<string>>> = {
  customers: ["vip_id", "phone_key"],
  sales: ["invoice_number"],
  coupons: ["coupon_id"]
}

/** Each kind's table. @since 0.5.0 */
export const TABLES: Readonly<Record<ImportKind, string>> = {
  customers: "c360_pos_customers",
  sales: "c360_pos_sales",
  coupons: "c360_pos_coupons"
}

/**
 * The file's header does not have a required column (or the mapping names a column the kind does
 * not have, or a header the file does not have): nothing was written.
 *
 * @since 0.5.0
 */
export class ImportHeaderInvalid extends Schema.TaggedError<ImportHeaderInvalid>()("ImportHeaderInvalid", {
  kind: Schema.String,
  missing: Schema.Array(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    return `The ${this.kind} file's header is not usable: ${this.reason}`
  }
}

/**
 * A column name → the header in the file that holds it (for the columns not under their own name).
 *
 * @since 0.5.0
 */
export type Mapping = Readonly<Record<string, string>>

/** Where each column is in the file's records (`-1`: not in the file). @since 0.5.0 */
export type Positions = ReadonlyArray<number>

const norm = (s: string) => s.replace(/^\uFEFF/, "").trim().toLowerCase()

/**
 * Matches the header row to the kind's columns: each column's header is its mapping entry or its
 * own name, matched trimmed and case-insensitively (the first header of that name wins).
 *
 * @since 0.5.0
 */
export const resolveHeader = (
  kind: ImportKind,
  header: ReadonlyArray<Cell>,
  mapping: Mapping = {}
): Positions | ImportHeaderInvalid => {
  const columns = COLUMNS[kind]
  const unknown = Object.keys(mapping).filter((k) => !columns.some((c) => c.name === k))
  if (unknown.length > 0) {
    return new ImportHeaderInvalid({
      kind,
      missing: [],
      reason: `the mapping names columns the ${kind} import does not have: ${unknown.join(", ")}`
    })
  }
  const index = new Map<string, number>()
  header.forEach((cell, i) => {
    const name = norm(V.cellText(cell))
    if (name !== "" && !index.has(name)) index.set(name, i)
  })
  const positions = columns.map((c) => index.get(norm(mapping[c.name] ?? c.name)) ?? -1)
  const missing = columns.filter((c, i) => c.required && positions[i] === -1).map((c) => c.name)
  if (missing.length > 0) {
    return new ImportHeaderInvalid({
      kind,
      missing,
      reason: `required column${missing.length > 1 ? "s" : ""} missing: ${
        missing.map((m) => mapping[m] === undefined ? m : `${m} (as "${mapping[m]}")`).join(", ")
      }`
    })
  }
  return positions
}

/**
 * A failed row of the report: its line, the column (`null` for a failure of the whole row) and
 * value (as written), and why.
 *
 * @since 0.5.0
 */
export interface RowFailure {
  readonly line: number
  readonly column: string | null
  readonly value: string | null
  readonly reason: string
}

/**
 * A record made a row to store: `values` by column of the kind's table (`STORED`), `key` the
 * row's key as one string, `fingerprint` the hash of the values read from the file.
 *
 * @since 0.5.0
 */
export interface ParsedRow {
  readonly line: number
  readonly key: string
  readonly values: Record<string, string | number | null>
  readonly fingerprint: string
}

const MAX_TEXT = 1000

/** What the parse of a record needs: the business time zone and the phone policy. @since 0.5.0 */
export interface ParseContext {
  readonly timeZone: string
  readonly phonePolicy?: Phone.PhonePolicy | undefined
}

class Fail {
  constructor(readonly column: string, readonly cell: Cell | undefined, readonly reason: string) {}
}

const valueOf = (spec: ColumnSpec, cell: Cell | undefined, ctx: ParseContext): unknown => {
  if (V.isEmpty(cell)) {
    if (spec.required) return new Fail(spec.name, cell, "is required")
    return spec.type === "phone" ? { raw: null, canonical: null } : null
  }
  let v: unknown
  switch (spec.type) {
    case "text": {
      const t = V.cellText(cell)
      v = t.length > MAX_TEXT ? new V.Invalid(`is longer than ${MAX_TEXT} characters`) : t
      break
    }
    case "id":
      v = V.id(cell)
      break
    case "int":
      v = V.integer(cell)
      break
    case "month":
      v = V.integer(cell, { min: 1, max: 12 })
      break
    case "money":
      v = V.money(cell, { signed: false })
      break
    case "signedMoney":
      v = V.money(cell, { signed: true })
      break
    case "day": {
      const w = V.when(cell, ctx.timeZone)
      v = V.isInvalid(w) ? w : w.day
      break
    }
    case "instant":
      v = V.when(cell, ctx.timeZone)
      break
    case "phone": {
      const p = V.phone(cell, ctx.phonePolicy)
      v = p.raw.length > MAX_TEXT ? new V.Invalid(`is longer than ${MAX_TEXT} characters`) : p
      break
    }
    case "grade":
      v = V.grade(cell)
      break
    case "flag":
      v = V.flag(cell)
      break
  }
  return V.isInvalid(v) ? new Fail(spec.name, cell, v.reason) : v
}

/**
 * One record as the row to store, or its failure (the first column that fails, in the kind's
 * column order).
 *
 * @since 0.5.0
 */
export const parseRow = (
  kind: ImportKind,
  positions: Positions,
  row: { readonly line: number; readonly cells: ReadonlyArray<Cell> },
  ctx: ParseContext
): ParsedRow | RowFailure => {
  const columns = COLUMNS[kind]
  const read: Array<unknown> = new Array(columns.length)
  for (let i = 0; i < columns.length; i++) {
    const spec = columns[i]!
    const at = positions[i]!
    const v = valueOf(spec, at < 0 ? null : row.cells[at], ctx)
    if (v instanceof Fail) {
      return { line: row.line, column: v.column, value: V.isEmpty(v.cell) ? "" : V.cellText(v.cell), reason: v.reason }
    }
    read[i] = v
  }
  const r = read as Array<any>
  let values: Record<string, string | number | null>
  let key: string
  let fingerprinted: Array<unknown>
  switch (kind) {
    case "customers": {
      const p = r[5] as V.PhoneValue
      values = {
        vip_id: r[0],
        phone_key: p.canonical ?? p.raw,
        phone: p.canonical,
        phone_raw: p.raw,
        id_number: r[1],
        birthday_month: r[2],
        vip_grade: r[3],
        name: r[4],
        race: r[6],
        gender: r[7],
        birthday: r[8],
        city_state: r[9],
        postal_code: r[10],
        country: r[11],
        email: r[12],
        contact_address: r[13],
        registration_store: r[14],
        registration_date: r[15],
        points: r[16],
        customer_id: null
      }
      key = `${values.vip_id}\u0000${values.phone_key}`
      fingerprinted = [r[0], p.canonical, p.raw, r[1], r[2], r[3], r[4], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15], r[16]]
      break
    }
    case "sales": {
      const w = r[5] as V.When
      values = {
        invoice_number: r[0],
        shop_id: r[1],
        shop_group: shopGroupOf(r[1] as string),
        shop_name: r[2],
        country: r[3],
        bu: r[4],
        sales_date: w.day,
        sales_at: w.at,
        season: seasonOf(w.day),
        vip_id: r[6],
        vip_name: r[7],
        quantity: r[8],
        settlement_amount: r[9],
        sales_amount: r[10],
        tag_amount: r[11],
        per_customer_transaction: r[12],
        discount: r[13],
        rounding: r[14],
        customer_id: null,
        purchase_reference: null
      }
      key = r[0] as string
      fingerprinted = [r[0], r[1], r[2], r[3], r[4], w.day, w.at, r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14]]
      break
    }
    case "coupons": {
      const p = r[13] as { raw: string | null; canonical: string | null }
      values = {
        coupon_id: r[3],
        department: r[0],
        creator: r[1],
        document_number: r[2],
        face_value: r[4],
        used: r[5],
        begin_date: r[6],
        end_date: r[7],
        using_shop: r[8],
        shop_group: r[8] === null ? null : shopGroupOf(r[8] as string),
        using_date: r[9],
        season: r[6] === null ? null : seasonOf(r[6] as string),
        push: r[10],
        member_id: r[11],
        member_name: r[12],
        member_phone_raw: p.raw,
        member_phone: p.canonical,
        docket_number: r[14]
      }
      key = r[3] as string
      fingerprinted = [r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], p.raw, p.canonical, r[14]]
      break
    }
  }
  return { line: row.line, key, values, fingerprint: fingerprintOf(JSON.stringify(fingerprinted)) }
}

/** @since 0.5.0 */
export const isFailure = (r: ParsedRow | RowFailure): r is RowFailure => "reason" in r
