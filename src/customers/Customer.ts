/**
 * Customers (DOMAIN §2): the CRM profile a shop keeps for every person it deals with, keyed by the
 * canonical phone number. Pure: models, input schemas, the search folding rule and typed errors.
 *
 * The rules, in full: docs/customers.md.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { encodeId, idPattern } from "../kernel/Ids.js"
import { Phone } from "../kernel/Phone.js"
import { Text } from "../kernel/Text.js"

/**
 * A customer's id: `cus_` followed by 26 Crockford base-32 characters (48 bits of milliseconds,
 * then 80 random bits), so ids sort by creation time.
 *
 * @since 0.1.0
 */
export const CustomerId = Schema.String.pipe(
  Schema.pattern(idPattern("cus"), { message: () => "must be a customer id (cus_ and 26 characters)" }),
  Schema.brand("CustomerId")
)

/** @since 0.1.0 */
export type CustomerId = typeof CustomerId.Type

/**
 * Builds a {@link CustomerId} from a creation instant and 10 random bytes.
 *
 * @since 0.1.0
 */
export const makeCustomerId = (millis: number, random: Uint8Array): CustomerId =>
  encodeId("cus", millis, random) as CustomerId

/** How the shop knows the person. @since 0.1.0 */
export const CustomerType = Schema.Literal("walk-in", "member", "vip")
/** @since 0.1.0 */
export type CustomerType = typeof CustomerType.Type

/** `inactive` is what a delete sets: the profile and its history stay. @since 0.1.0 */
export const CustomerStatus = Schema.Literal("active", "inactive", "blocked")
/** @since 0.1.0 */
export type CustomerStatus = typeof CustomerStatus.Type

/**
 * A profile's status as read: one of {@link CustomerStatus}, or `merged` for a profile merged into
 * another (DOMAIN §9a; its `mergedInto` says which). `merged` is never set by an update: only a merge
 * makes it, and nothing undoes it.
 *
 * @since 0.4.0
 */
export const ProfileStatus = Schema.Literal("active", "inactive", "blocked", "merged")
/** @since 0.4.0 */
export type ProfileStatus = typeof ProfileStatus.Type

/** RFM tier (DOMAIN §6); `new` until the RFM job scores the customer. @since 0.1.0 */
export const CustomerTier = Schema.Literal("new", "silver", "gold", "platinum", "blacklist")
/** @since 0.1.0 */
export type CustomerTier = typeof CustomerTier.Type

/** Membership level by total spent (DOMAIN §7). @since 0.1.0 */
export const MembershipLevel = Schema.Literal("bronze", "silver", "gold", "platinum")
/** @since 0.1.0 */
export type MembershipLevel = typeof MembershipLevel.Type

/** @since 0.1.0 */
export const Gender = Schema.Literal("male", "female", "other")
/** @since 0.1.0 */
export type Gender = typeof Gender.Type

/** Where a customer was first created (DOMAIN §2). @since 0.1.0 */
export const CustomerSource = Schema.Literal("customer_hub", "ticket", "bank_transfer", "import")
/** @since 0.1.0 */
export type CustomerSource = typeof CustomerSource.Type

/**
 * A customer profile as stored. Instants are UTC `Date`s; money is integer đồng.
 *
 * @since 0.1.0
 */
export class Customer extends Schema.Class<Customer>("Customer")({
  id: CustomerId,
  phone: Schema.NullOr(Phone),
  name: Schema.NullOr(Schema.String),
  email: Schema.NullOr(Schema.String),
  address: Schema.NullOr(Schema.String),
  city: Schema.NullOr(Schema.String),
  province: Schema.NullOr(Schema.String),
  birthDate: Schema.NullOr(Schema.String),
  gender: Schema.NullOr(Gender),
  notes: Schema.NullOr(Schema.String),
  type: CustomerType,
  status: ProfileStatus,
  tier: CustomerTier,
  membershipLevel: MembershipLevel,
  points: Schema.Int,
  totalOrders: Schema.Int,
  totalSpent: Schema.Int,
  lastPurchaseAt: Schema.NullOr(Schema.DateFromSelf),
  source: CustomerSource,
  /** The customer's payment code (`N2…`, DOMAIN §5): unique, generated at creation, never changed. */
  paymentCode: Schema.String,
  /** The login linked to this profile (DOMAIN §9), if any; a user has at most one profile. */
  userId: Schema.NullOr(Schema.String),
  /** For a `merged` profile, the survivor it was merged into (never itself merged); else `null`. */
  mergedInto: Schema.NullOr(CustomerId),
  createdAt: Schema.DateFromSelf,
  updatedAt: Schema.DateFromSelf
}) {}

/**
 * A customer as plain JSON (instants as ISO strings), as events carry it.
 *
 * @since 0.1.0
 */
export const customerToJson = (c: Customer): { readonly [key: string]: unknown; readonly id: string; readonly phone: string | null } => ({
  ...c,
  lastPurchaseAt: c.lastPurchaseAt === null ? null : c.lastPurchaseAt.toISOString(),
  createdAt: c.createdAt.toISOString(),
  updatedAt: c.updatedAt.toISOString()
})

// ---------------------------------------------------------------------------------------------
// Input schemas: what callers may send (every text through `Text`, kernel/Text.ts).

export { isCanonicalText, Text } from "../kernel/Text.js"

/** A trimmed e-mail address; unique per customer regardless of case. @since 0.1.0 */
export const Email = Text(254).pipe(
  Schema.pattern(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, { message: () => "must be an e-mail address" })
)

/** A calendar date `YYYY-MM-DD` that exists (no 2023-02-30), between 1900 and 2100. @since 0.1.0 */
export const BirthDate = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}$/, { message: () => "must be a date YYYY-MM-DD" }),
  Schema.filter((s) => {
    const [y, m, d] = s.split("-").map(Number) as [number, number, number]
    const date = new Date(Date.UTC(y, m - 1, d))
    return y >= 1900 && y <= 2100 && date.getUTCMonth() === m - 1 && date.getUTCDate() === d
  }, { message: () => "must be a real calendar date between 1900 and 2100" })
)

/** The phone as typed by a person: any format of DOMAIN §1; normalised (and judged) by the service. */
const PhoneInput = Schema.String

/**
 * Input of `create`: a phone in any format, a name, and optional profile fields.
 *
 * @since 0.1.0
 */
export const CreateCustomerInput = Schema.Struct({
  phone: PhoneInput,
  name: Text(200),
  email: Schema.optional(Schema.NullOr(Email)),
  address: Schema.optional(Schema.NullOr(Text(500))),
  city: Schema.optional(Schema.NullOr(Text(100))),
  province: Schema.optional(Schema.NullOr(Text(100))),
  birthDate: Schema.optional(Schema.NullOr(BirthDate)),
  gender: Schema.optional(Schema.NullOr(Gender)),
  notes: Schema.optional(Schema.NullOr(Text(5000, { multiline: true }))),
  type: Schema.optional(CustomerType),
  source: Schema.optional(CustomerSource)
})
/** @since 0.1.0 */
export type CreateCustomerInput = typeof CreateCustomerInput.Encoded

/**
 * Input of `getOrCreate`: the phone, an optional name used only when the customer is created,
 * and where the request comes from.
 *
 * @since 0.1.0
 */
export const GetOrCreateInput = Schema.Struct({
  phone: PhoneInput,
  name: Schema.optional(Schema.NullOr(Text(200))),
  source: CustomerSource
})
/** @since 0.1.0 */
export type GetOrCreateInput = typeof GetOrCreateInput.Encoded

/**
 * A partial update: every field is optional; `null` clears a nullable field. `tier`, points and
 * totals are not patchable: they are derived from purchases and the RFM job.
 *
 * @since 0.1.0
 */
export const CustomerPatch = Schema.Struct({
  phone: Schema.optional(PhoneInput),
  name: Schema.optional(Schema.NullOr(Text(200))),
  email: Schema.optional(Schema.NullOr(Email)),
  address: Schema.optional(Schema.NullOr(Text(500))),
  city: Schema.optional(Schema.NullOr(Text(100))),
  province: Schema.optional(Schema.NullOr(Text(100))),
  birthDate: Schema.optional(Schema.NullOr(BirthDate)),
  gender: Schema.optional(Schema.NullOr(Gender)),
  notes: Schema.optional(Schema.NullOr(Text(5000, { multiline: true }))),
  type: Schema.optional(CustomerType),
  status: Schema.optional(CustomerStatus),
  membershipLevel: Schema.optional(MembershipLevel)
})
/** @since 0.1.0 */
export type CustomerPatch = typeof CustomerPatch.Encoded

const OneOrMany = <A extends string, I extends string>(s: Schema.Schema<A, I>) =>
  Schema.Union(s, Schema.Array(s).pipe(Schema.minItems(1), Schema.maxItems(10)))

/**
 * Input of `search`. `q` matches a phone fragment (when it is made of digits and phone
 * punctuation) or else the name, accent- and case-insensitively, and the e-mail. `page` starts at 1;
 * `limit` is 1–100 (default 20). Without a `status` filter, deleted (`inactive`) customers are left
 * out.
 *
 * @since 0.1.0
 */
export const SearchQuery = Schema.Struct({
  q: Schema.optional(Schema.String.pipe(Schema.maxLength(100, { message: () => "must be at most 100 characters" }))),
  page: Schema.optional(Schema.Int.pipe(Schema.between(1, 1_000_000))),
  limit: Schema.optional(Schema.Int.pipe(Schema.between(1, 100))),
  type: Schema.optional(OneOrMany(CustomerType)),
  status: Schema.optional(OneOrMany(ProfileStatus)),
  tier: Schema.optional(OneOrMany(CustomerTier)),
  membershipLevel: Schema.optional(OneOrMany(MembershipLevel))
})
/** @since 0.1.0 */
export type SearchQuery = typeof SearchQuery.Encoded

/**
 * One page of results, newest customers first.
 *
 * @since 0.1.0
 */
export interface Page<A> {
  readonly items: ReadonlyArray<A>
  readonly total: number
  readonly page: number
  readonly limit: number
}

/**
 * Folds text for accent-insensitive search: Unicode decomposition, combining marks removed,
 * `đ`/`Đ` → `d`, lower case, runs of blanks collapsed to one space, trimmed. "Nguyễn  Văn Đức" →
 * "nguyen van duc". Idempotent.
 *
 * @since 0.1.0
 */
export const foldText = (s: string): string =>
  s.toLowerCase()
    .normalize("NFD")
    .replace(/\p{M}+/gu, "")
    .replace(/đ/g, "d")
    .normalize("NFC")
    .replace(/\s+/gu, " ")
    .trim()

/**
 * Key under which an e-mail is unique: trimmed and lower-cased.
 *
 * @since 0.1.0
 */
export const emailKey = (email: string): string => email.trim().toLowerCase()

/**
 * Another customer already holds this phone or e-mail.
 *
 * @since 0.1.0
 */
export class CustomerExists extends Schema.TaggedError<CustomerExists>()("CustomerExists", {
  field: Schema.Literal("phone", "email"),
  value: Schema.String
}) {
  override get message(): string {
    return `A customer with ${this.field} ${this.value} already exists`
  }
}

/**
 * No customer has this id or phone.
 *
 * @since 0.1.0
 */
export class CustomerNotFound extends Schema.TaggedError<CustomerNotFound>()("CustomerNotFound", {
  by: Schema.Literal("id", "phone"),
  value: Schema.String
}) {
  override get message(): string {
    return `No customer with ${this.by} ${this.value}`
  }
}
