/**
 * The Promise facade: its happy path, its errors, and hostile input (fast-check) that must end in a
 * typed rejection with nothing written — never a defect, a driver error or an unhandled exception.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { type Customer360Instance, type Customer360Options, createCustomer360, normalizePhone } from "../../src/index.js"
import { freshPhone } from "./customers.js"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const TYPED = new Set([
  "InvalidPhone",
  "CustomerExists",
  "CustomerNotFound",
  "ValidationError",
  "InvalidAmount",
  "InsufficientFunds",
  "IdempotencyConflict"
])

/** The tags of the modules added in 0.2.0 (tickets, transfers), with those above: every typed rejection. */
const TYPED_V2 = new Set([
  ...TYPED,
  "TicketNotFound",
  "InvalidTransition",
  "InvalidTicketAction",
  "TransferNotFound",
  "TransferAlreadyLinked",
  "WebhookUnauthorized",
  "InvalidVietQr"
])

/** Like `rejectionOf`, for the calls of the 0.2.0 modules: the rejection, typed by one of `TYPED_V2`. */
const typedRejectionOf = async (call: () => Promise<unknown>): Promise<Error & { _tag: string }> => {
  let outcome: unknown
  try {
    outcome = { resolved: await call() }
  } catch (e) {
    expectTypedV2(e)
    return e as Error & { _tag: string }
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(outcome)}`)
}

/** A rejection of one of `TYPED_V2`, with a readable message that names no driver and no stack. */
const expectTypedV2 = (e: unknown) => {
  expect(e).toBeInstanceOf(Error)
  const error = e as Error & { _tag: string }
  expect(TYPED_V2.has(error._tag), `untyped rejection ${error._tag}: ${error.message}`).toBe(true)
  expect(error.message.length).toBeGreaterThan(0)
  expect(error.message).not.toMatch(/SqlError|sqlite|postgres|at .*\.(js|ts):\d+/i)
}

/** Runs `call` and returns the rejection, failing the test when it resolves or rejects untyped. */
const rejectionOf = async (call: () => Promise<unknown>): Promise<Error & { _tag: string }> => {
  let outcome: unknown
  try {
    outcome = { resolved: await call() }
  } catch (e) {
    expect(e).toBeInstanceOf(Error)
    const error = e as Error & { _tag: string }
    expect(TYPED.has(error._tag), `untyped rejection ${error._tag}: ${error.message}`).toBe(true)
    expect(error.message.length).toBeGreaterThan(0)
    expect(error.message).not.toMatch(/SqlError|sqlite|postgres|at .*\.(js|ts):\d+/i)
    return error
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(outcome)}`)
}

/** Values of every JavaScript shape that are not a valid string field. */
const notAString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(undefined),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
  fc.bigInt().map((b) => b as unknown)
)
/** Strings that no text field accepts. */
const badText = fc.oneof(
  fc.constant(""),
  fc.constant("   "),
  fc.string({ minLength: 1, maxLength: 5 }).map((s) => `${s}\u0000`),
  fc.constant("\uD800lone"),
  fc.constant("x".repeat(5001))
)
/** Strings that are not phone numbers. */
const badPhone = fc.oneof(
  fc.constant(""),
  fc.string({ maxLength: 12 }).filter((s) => /[a-zA-Z]/.test(s)),
  fc.stringMatching(/^0[46]\d{8}$/),
  fc.stringMatching(/^0\d{3,7}$/),
  fc.constant("0000000000"),
  fc.constant("+1 415 555 2671"),
  fc.constant("x".repeat(200))
)

/** The facade suite over a database; `open` returns the options and a cleanup. */
export const facadeSuite = (
  name: string,
  open: () => Promise<{ readonly database: Customer360Options["database"]; readonly cleanup: () => Promise<void> }>
) =>
describe(name, () => {
  let c360: Customer360Instance
  let cleanup: () => Promise<void> = async () => {}
  beforeAll(async () => {
    const db = await open()
    cleanup = db.cleanup
    c360 = await createCustomer360({ database: db.database })
  })
  afterAll(async () => {
    await c360.close()
    await cleanup()
  })

  const total = async () => (await c360.customers.search({ status: ["active", "inactive", "blocked"], limit: 1 })).total

  it("creates, finds by any format, updates, searches and soft-deletes", async () => {
    const phone = freshPhone()
    const created = await c360.customers.create({ phone: `+84 ${phone.slice(1)}`, name: "Lê Thị Hoa", email: "hoa@shop.vn" })
    expect(created.phone).toBe(phone)
    expect((await c360.customers.findByPhone(`0${phone.slice(1, 4)} ${phone.slice(4)}`))?.id).toBe(created.id)
    expect(await c360.customers.findByPhone(freshPhone())).toBeNull()
    expect((await c360.customers.findById(created.id))?.name).toBe("Lê Thị Hoa")
    const goc = await c360.customers.getOrCreate({ phone, source: "ticket" })
    expect(goc).toEqual({ customer: created, created: false })
    const updated = await c360.customers.update(created.id, { name: "Lê Thị Hoà", city: "Đà Nẵng" })
    expect(updated.city).toBe("Đà Nẵng")
    const found = await c360.customers.search({ q: "le thi hoa" })
    expect(found.items.map((c) => c.id)).toContain(created.id)
    expect((await c360.customers.delete(created.id)).status).toBe("inactive")
  })

  it("rejects with typed, readable errors", async () => {
    const phone = freshPhone()
    await c360.customers.create({ phone, name: "A" })
    expect(await rejectionOf(() => c360.customers.create({ phone, name: "B" }))).toMatchObject({
      _tag: "CustomerExists",
      message: `A customer with phone ${phone} already exists`
    })
    expect(await rejectionOf(() => c360.customers.create({ phone: "12345", name: "B" }))).toMatchObject({
      _tag: "InvalidPhone",
      reason: "wrong_length"
    })
    expect(await rejectionOf(() => c360.customers.update("cus_00000000000000000000000000", { name: "x" })))
      .toMatchObject({ _tag: "CustomerNotFound" })
    const validation = await rejectionOf(() => c360.customers.create({ phone, name: 42 } as any))
    expect(validation).toMatchObject({ _tag: "ValidationError", issues: [{ path: "name" }] })
    expect(() => normalizePhone("hello")).toThrow(expect.objectContaining({ _tag: "InvalidPhone", reason: "not_digits" }))
    expect(normalizePhone("0084 (0) 912-345-678")).toBe("0912345678")
  })

  it("delivers customer.created from the outbox to subscribers, and stops when asked", async () => {
    const seen: Array<string> = []
    const stop = c360.events.subscribe(["customers"], (e) => seen.push(`${e.type}:${e.subject}`))
    const a = await c360.customers.create({ phone: freshPhone(), name: "Sub" })
    for (let i = 0; i < 100 && !seen.includes(`customer.created:${a.id}`); i++) await sleep(20)
    expect(seen).toContain(`customer.created:${a.id}`)
    stop()
    const before = seen.length
    await c360.customers.create({ phone: freshPhone(), name: "After stop" })
    await sleep(300)
    expect(seen.length).toBe(before)
  })

  it("property: an invalid value in any field of create is a typed rejection and writes nothing", async () => {
    const wrongType = notAString.filter((v) => v !== undefined)
    const notIn = (...allowed: Array<string>) => fc.string({ maxLength: 20 }).filter((s) => !allowed.includes(s))
    const invalid: Record<string, fc.Arbitrary<unknown>> = {
      phone: fc.oneof(notAString, badPhone),
      name: fc.oneof(notAString, fc.constant(null), badText, fc.constant("x".repeat(201))),
      email: fc.oneof(wrongType, badText, fc.string({ maxLength: 20 }).filter((s) => !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s.trim()))),
      address: fc.oneof(wrongType, badText),
      city: fc.oneof(wrongType, badText, fc.constant("x".repeat(101))),
      province: fc.oneof(wrongType, badText),
      birthDate: fc.oneof(wrongType, fc.constantFrom("2023-02-29", "1899-12-31", "2020-13-01", "01/02/2020", "")),
      gender: fc.oneof(wrongType, notIn("male", "female", "other")),
      notes: fc.oneof(wrongType, badText),
      type: fc.oneof(wrongType, fc.constant(null), notIn("walk-in", "member", "vip")),
      source: fc.oneof(wrongType, fc.constant(null), notIn("customer_hub", "ticket", "bank_transfer", "import")),
      unknownField: fc.anything()
    }
    const bad = fc.constantFrom(...Object.keys(invalid)).chain((field) =>
      invalid[field]!.map((value) => ({ field, value }))
    )
    const before = await total()
    let rejected = 0
    await fc.assert(
      fc.asyncProperty(bad, async ({ field, value }) => {
        const input: Record<string, unknown> = { phone: freshPhone(), name: "Valid Name", [field]: value }
        const error = await rejectionOf(() => c360.customers.create(input as any))
        expect(error._tag).toBe(field === "phone" && typeof value === "string" ? "InvalidPhone" : "ValidationError")
        rejected++
      }),
      { numRuns: 600 }
    )
    expect(rejected).toBeGreaterThanOrEqual(600)
    expect(await total()).toBe(before)
  })

  it("property: arbitrary values for every argument of every call never escape as untyped errors", async () => {
    const phone = freshPhone()
    const existing = await c360.customers.create({ phone, name: "Existing" })
    const before = await total()
    await fc.assert(
      fc.asyncProperty(fc.anything(), fc.anything(), fc.constantFrom(0, 1, 2, 3, 4, 5, 6), async (a, b, which) => {
        const calls: Array<() => Promise<unknown>> = [
          () => c360.customers.create(a as any),
          () => c360.customers.getOrCreate(a as any),
          () => c360.customers.findByPhone(a as any),
          () => c360.customers.findById(a as any),
          () => c360.customers.update(existing.id, { ...(b as object), phone: a } as any),
          () => c360.customers.update(a as any, b as any),
          () => c360.customers.search(a as any)
        ]
        try {
          await calls[which]!()
        } catch (e) {
          expect(e).toBeInstanceOf(Error)
          expect(TYPED.has((e as { _tag: string })._tag), String(e)).toBe(true)
        }
      }),
      { numRuns: 1000 }
    )
    // fc.anything() can by chance build a valid create input; nothing else may have been written
    expect(await total()).toBeGreaterThanOrEqual(before)
    expect(await c360.customers.findById(existing.id)).toMatchObject({ phone, name: "Existing" })
  })

  it("wallets: deposit, credit, withdraw, replay and read through the facade", async () => {
    const phone = freshPhone()
    await c360.customers.create({ phone, name: "Wallet" })
    const d = await c360.wallets.deposit({ phone, amount: 200_000, reference: `f-${phone}-d`, source: "bank_transfer" })
    expect(d.wallet).toMatchObject({ balance: 200_000, available: 200_000 })
    const c = await c360.wallets.issueVirtualCredit({ phone, amount: 50_000, reason: "BOOM ticket", reference: `f-${phone}-c`, ticketId: "TV-2026-00001" })
    expect(c.credit).toMatchObject({ amount: 50_000, remaining: 50_000, status: "active", ticketId: "TV-2026-00001" })
    expect(c.credit.expiresAt.getTime() - c.credit.issuedAt.getTime()).toBe(15 * 86_400_000)
    const w = await c360.wallets.withdraw({ phone: `+84${phone.slice(1)}`, amount: 60_000, reference: `f-${phone}-w` })
    expect({ fromCredits: w.fromCredits, fromReal: w.fromReal }).toEqual({
      fromCredits: [{ creditId: c.credit.id, amount: 50_000 }],
      fromReal: 10_000
    })
    expect(await c360.wallets.withdraw({ phone, amount: 60_000, reference: `f-${phone}-w` })).toEqual(w)
    await expect(c360.wallets.withdraw({ phone, amount: 1_000_000, reference: `f-${phone}-w2` })).rejects.toMatchObject({
      _tag: "InsufficientFunds",
      available: 190_000
    })
    expect(await c360.wallets.get(phone)).toMatchObject({ balance: 190_000, virtualBalance: 0, available: 190_000 })
    const page = await c360.wallets.transactions(phone, { limit: 10 })
    expect(page.items.map((e) => e.kind)).toEqual(["withdrawal", "credit_spent", "credit_issued", "deposit"])
    expect(await c360.jobs.expireCredits()).toMatchObject({ expired: expect.any(Number) })
  })

  it("customers.view(phone): the profile, the wallet and its latest entries in one call; CustomerNotFound for an unknown phone", async () => {
    const phone = freshPhone()
    const customer = await c360.customers.create({ phone, name: "Viewed" })
    await c360.wallets.deposit({ phone, amount: 7_000, reference: `fv-${phone}-d`, source: "manual" })
    await c360.wallets.issueVirtualCredit({ phone, amount: 3_000, reason: "BOOM", reference: `fv-${phone}-c` })
    const view = await c360.customers.view(`+84 ${phone.slice(1)}`)
    expect(view.customer.id).toBe(customer.id)
    expect(view.wallet).toMatchObject({ balance: 7_000, virtualBalance: 3_000, available: 10_000 })
    expect(view.transactions.items.map((e) => e.kind)).toEqual(["credit_issued", "deposit"])
    await expect(c360.customers.view(freshPhone())).rejects.toMatchObject({ _tag: "CustomerNotFound" })
    await expect(c360.customers.view("not a phone")).rejects.toMatchObject({ _tag: "InvalidPhone" })
  })

  it("wallets: a Date the caller passed or was given is the caller's: changing it changes no credit", async () => {
    const phone = freshPhone()
    await c360.customers.create({ phone, name: "Dates" })
    await c360.wallets.deposit({ phone, amount: 100_000, reference: `fd-${phone}-d`, source: "manual" })
    const expiresAt = new Date(Date.now() + 5 * 86_400_000)
    const issued = await c360.wallets.issueVirtualCredit({ phone, amount: 30_000, reason: "dates", reference: `fd-${phone}-c`, expiresAt })
    const due = expiresAt.getTime()
    // the caller reuses its Date, and scribbles on the ones it was given
    expiresAt.setTime(0)
    issued.credit.expiresAt.setTime(0)
    issued.wallet.credits[0]!.expiresAt.setTime(0)
    issued.credit.issuedAt.setTime(0)
    // the credit is still spendable, and still expires when it was issued to (the library plans
    // withdrawals on the state it remembers: a changed Date there would make the credit look expired)
    const w = await c360.wallets.withdraw({ phone, amount: 10_000, reference: `fd-${phone}-w` })
    expect({ fromCredits: w.fromCredits, fromReal: w.fromReal }).toEqual({ fromCredits: [{ creditId: issued.credit.id, amount: 10_000 }], fromReal: 0 })
    w.wallet.credits[0]!.expiresAt.setTime(0)
    const view = await c360.wallets.get(phone)
    expect(view.credits.map((c) => [c.id, c.remaining, c.status, c.expiresAt.getTime()])).toEqual([[issued.credit.id, 20_000, "active", due]])
    expect(JSON.parse(JSON.stringify(view.credits[0]))).toMatchObject({ expiresAt: new Date(due).toISOString() })
    expect((await c360.wallets.withdraw({ phone, amount: 5_000, reference: `fd-${phone}-w2` })).fromCredits).toEqual([{ creditId: issued.credit.id, amount: 5_000 }])
  })

  it("property: invalid input to any wallet call is a typed rejection and leaves the ledger unchanged", async () => {
    const phone = freshPhone()
    await c360.customers.create({ phone, name: "Fuzzed" })
    await c360.wallets.deposit({ phone, amount: 10_000, reference: `fz-${phone}`, source: "manual" })
    const before = await c360.wallets.transactions(phone, { limit: 200 })
    const badAmount = fc.oneof(
      fc.double().filter((d) => !Number.isSafeInteger(d) || d <= 0),
      fc.integer({ max: 0 }),
      fc.constantFrom(Number.MAX_SAFE_INTEGER + 2, Infinity, -Infinity, Number.NaN),
      notAString,
      fc.string({ maxLength: 8 })
    ).filter((v) => !(typeof v === "number" && Number.isSafeInteger(v) && v > 0))
    const call = fc.oneof(
      badAmount.map((amount) => () => c360.wallets.deposit({ phone, amount, reference: "fz-new", source: "manual" } as any)),
      badAmount.map((amount) => () => c360.wallets.withdraw({ phone, amount, reference: "fz-new" } as any)),
      badAmount.map((amount) => () => c360.wallets.issueVirtualCredit({ phone, amount, reason: "r", reference: "fz-new" } as any)),
      fc.anything().map((input) => () => c360.wallets.deposit(input as any)),
      fc.anything().map((input) => () => c360.wallets.withdraw(input as any)),
      fc.anything().map((input) => () => c360.wallets.issueVirtualCredit(input as any)),
      fc.tuple(fc.oneof(badText, fc.constant("")), fc.constantFrom("deposit", "withdraw")).map(([reference, kind]) => () =>
        kind === "deposit"
          ? c360.wallets.deposit({ phone, amount: 1, reference, source: "manual" })
          : c360.wallets.withdraw({ phone, amount: 1, reference })
      ),
      fc.oneof(notAString, badPhone).map((p) => () => c360.wallets.deposit({ phone: p, amount: 1, reference: "fz-new", source: "manual" } as any)),
      fc.constantFrom("gift", "", "BANK_TRANSFER").map((source) => () =>
        c360.wallets.deposit({ phone, amount: 1, reference: "fz-new", source } as any)
      ),
      fc.oneof(fc.integer({ max: 0 }), fc.integer({ min: 3651 }), fc.double({ min: 0.1, max: 0.9 }), notAString)
        .filter((d) => d !== undefined && !(Number.isInteger(d) && (d as number) >= 1 && (d as number) <= 3650))
        .map((days) => () =>
        c360.wallets.issueVirtualCredit({ phone, amount: 1, reason: "r", reference: "fz-new", expiresInDays: days } as any)
      ),
      fc.constant(() => c360.wallets.deposit({ phone, amount: 1, reference: `fz-${phone}`, source: "manual" })),
      fc.anything().map((options) => () => c360.wallets.transactions(phone, options as any)),
      fc.anything().map((p) => () => c360.wallets.get(p as any))
    )
    await fc.assert(
      fc.asyncProperty(call, async (f) => {
        try {
          const r = await f()
          // only reads may succeed here
          expect(r === undefined || typeof r === "object").toBe(true)
        } catch (e) {
          expect(e).toBeInstanceOf(Error)
          expect(TYPED.has((e as { _tag: string })._tag), String(e)).toBe(true)
        }
      }),
      { numRuns: 500 }
    )
    expect(await c360.wallets.transactions(phone, { limit: 200 })).toEqual(before)
    expect(await c360.wallets.get(phone)).toMatchObject({ balance: 10_000, credits: [] })
  })

  it("an argument nested more than 64 levels deep is a ValidationError on every call, never InternalError; nothing written", async () => {
    const phone = freshPhone()
    const customer = await c360.customers.create({ phone, name: "Nested" })
    await c360.wallets.deposit({ phone, amount: 10_000, reference: `fn-${phone}`, source: "manual" })
    const ledger = await c360.wallets.transactions(phone, { limit: 200 })
    const customers = await total()
    const array = (levels: number, inner: unknown = 1): unknown => {
      let value = inner
      for (let i = 0; i < levels; i++) value = [value]
      return value
    }
    const object = (levels: number): unknown => {
      let value: unknown = "x"
      for (let i = 0; i < levels; i++) value = { a: value }
      return value
    }
    const cycle: Record<string, unknown> = { phone }
    cycle.self = cycle
    const deepValues = [array(65), array(3_000), array(100_000), object(3_000), cycle]
    const calls = (deep: unknown): ReadonlyArray<() => Promise<unknown>> => [
      () => c360.customers.create({ phone: freshPhone(), name: "N", notes: deep } as any),
      () => c360.customers.create(deep as any),
      () => c360.customers.getOrCreate({ phone: freshPhone(), source: "ticket", name: deep } as any),
      () => c360.customers.update(customer.id, { notes: deep } as any),
      () => c360.customers.update(deep as any, { name: "N" }),
      () => c360.customers.search({ q: deep } as any),
      () => c360.customers.findByPhone(deep as any),
      () => c360.customers.view(deep as any),
      () => c360.wallets.deposit({ phone, amount: deep, reference: `fn-${phone}-d`, source: "manual" } as any),
      () => c360.wallets.withdraw({ phone, amount: 1, reference: deep } as any),
      () => c360.wallets.issueVirtualCredit({ phone, amount: 1, reason: "r", reference: `fn-${phone}-c`, ticketId: deep } as any),
      () => c360.wallets.transactions(phone, { cursor: deep } as any),
      () => c360.wallets.get(deep as any),
      () => c360.jobs.expireCredits({ batchSize: deep } as any)
    ]
    for (const deep of deepValues) {
      for (const call of calls(deep)) {
        const error = await rejectionOf(call)
        expect(error).toMatchObject({ _tag: "ValidationError", message: "The input nests arrays or objects more than 64 levels deep" })
      }
    }
    // the input object is a level: 64 levels of arrays inside it make 65, refused; 63 make 64, the rules' to judge
    expect(await rejectionOf(() => c360.customers.create({ phone: freshPhone(), name: "N", notes: array(64) } as any)))
      .toMatchObject({ _tag: "ValidationError", message: "The input nests arrays or objects more than 64 levels deep" })
    const deepest = await rejectionOf(() => c360.customers.create({ phone: freshPhone(), name: "N", notes: array(63) } as any))
    expect(deepest._tag).toBe("ValidationError")
    expect((deepest as unknown as { issues: ReadonlyArray<{ path: string }> }).issues.map((i) => i.path)).toContain("notes")
    // shared sub-objects are measured once: 40 levels of [v, v] are 2^40 paths but 41 objects, and 41 levels
    let dag: unknown = {}
    for (let i = 0; i < 40; i++) dag = [dag, dag]
    const wide = await rejectionOf(() => c360.customers.create({ phone: freshPhone(), name: "N", notes: dag } as any))
    expect(wide._tag).toBe("ValidationError")
    expect(wide.message).not.toContain("levels deep")
    expect(await c360.wallets.transactions(phone, { limit: 200 })).toEqual(ledger)
    expect(await total()).toBe(customers)
    expect(await c360.customers.get(customer.id)).toEqual(customer)
  })

  it("property: hostile phone strings are InvalidPhone (or found/not found), never anything else", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(badPhone, fc.string({ unit: "binary", maxLength: 40 })), async (raw) => {
        try {
          await c360.customers.findByPhone(raw)
        } catch (e) {
          expect((e as { _tag: string })._tag).toMatch(/^(InvalidPhone|ValidationError)$/)
        }
      }),
      { numRuns: 500 }
    )
  })

  describe("tickets, transfers, notes, the timeline and the deadline job (an instance with the bank side configured)", () => {
    const SEPAY_KEY = "facade-sepay-key-2026"
    const AUTH = `Apikey ${SEPAY_KEY}`
    const BANK_ACCOUNT = "0071000123456"
    let bank: Customer360Instance
    let bankCleanup: () => Promise<void> = async () => {}
    beforeAll(async () => {
      const db = await open()
      bankCleanup = db.cleanup
      bank = await createCustomer360({
        database: db.database,
        transfers: {
          sepayApiKey: SEPAY_KEY,
          bankBin: "970436",
          bankAccount: BANK_ACCOUNT,
          shopPhones: ["0909 111 222"],
          shopAccounts: ["0988.111.222"]
        }
      })
    })
    afterAll(async () => {
      await bank.close()
      await bankCleanup()
    })

    let sepayId = 50_000_000 + Math.floor(Math.random() * 1_000_000) * 10
    const sepayBody = (content: string, amount = 120_000, id = sepayId++) => ({
      id,
      gateway: "Vietcombank",
      transactionDate: "2026-03-01 10:15:00",
      accountNumber: BANK_ACCOUNT,
      code: null,
      content,
      transferType: "in",
      transferAmount: amount,
      accumulated: 1_000_000,
      subAccount: null,
      referenceCode: `FT${id}`,
      description: `BankAPINotify ${content}`
    })

    it("tickets: create, act, approve_boom once (a repeat is repeated: true and changes nothing), list, get, cancel; TicketNotFound, InvalidTransition, InvalidTicketAction", async () => {
      const phone = freshPhone()
      const created = await bank.tickets.create({ phone: `+84 ${phone.slice(1)}`, type: "BOOM", amount: 45_000, note: "khách không nhận" }, { actor: "staff:lan" })
      expect(created.ticket).toMatchObject({ type: "BOOM", status: "new", priority: "normal", phone, amount: 45_000 })
      expect(created.ticket.code).toMatch(/^TV-\d{4}-\d{5,}$/)
      expect(created.history.map((h) => [h.kind, h.actor])).toEqual([["created", "staff:lan"], ["note", "staff:lan"]])
      const code = created.ticket.code
      expect((await bank.customers.findByPhone(phone))).toMatchObject({ id: created.ticket.customerId, source: "ticket" })

      const moved = await bank.tickets.act(code, { action: "transition", to: "processing" }, { actor: "staff:lan" })
      expect(moved).toMatchObject({ repeated: false, credit: null, deposit: null, ticket: { status: "processing" } })
      const boom = await bank.tickets.act(code, { action: "approve_boom" }, { actor: "staff:lan" })
      expect(boom.repeated).toBe(false)
      expect(boom.credit?.credit).toMatchObject({ amount: 45_000, remaining: 45_000, status: "active" })
      const again = await bank.tickets.act(code, { action: "approve_boom" }, { actor: "staff:binh" })
      expect(again.repeated).toBe(true)
      expect(again.credit?.credit.id).toBe(boom.credit?.credit.id)
      expect(await bank.wallets.get(phone)).toMatchObject({ balance: 0, virtualBalance: 45_000 })
      expect(await typedRejectionOf(() => bank.tickets.act(code, { action: "approve_boom", amount: 50_000 })))
        .toMatchObject({ _tag: "InvalidTicketAction", reason: "already_done" })

      const details = await bank.tickets.get(code.toLowerCase())
      expect(details.ticket.status).toBe("processing")
      expect(details.history.map((h) => h.kind)).toEqual(["created", "note", "transition", "approve_boom"])
      const list = await bank.tickets.list({ phone })
      expect(list).toMatchObject({ total: 1, page: 1 })
      expect(list.items.map((t) => t.code)).toEqual([code])
      expect((await bank.tickets.list({ phone, type: "KHAC" })).total).toBe(0)
      expect(await bank.tickets.stats(phone)).toMatchObject({ completed: 0 })

      // the errors, typed
      expect(await typedRejectionOf(() => bank.tickets.get("TV-2020-99999"))).toMatchObject({ _tag: "TicketNotFound", code: "TV-2020-99999" })
      expect(await typedRejectionOf(() => bank.tickets.act("TV-2020-99999", { action: "note", text: "x" }))).toMatchObject({ _tag: "TicketNotFound" })
      const invalid = await typedRejectionOf(() => bank.tickets.act(code, { action: "transition", to: "new" }))
      expect(invalid).toMatchObject({ _tag: "InvalidTransition", from: "processing", to: "new" })
      expect(invalid.message).toContain("processing")
      const other = await bank.tickets.create({ phone, type: "KHAC" })
      expect(await typedRejectionOf(() => bank.tickets.act(other.ticket.code, { action: "approve_boom", amount: 1_000 })))
        .toMatchObject({ _tag: "InvalidTicketAction", reason: "wrong_type" })
      expect(await typedRejectionOf(() => bank.tickets.act(other.ticket.code, { action: "refund", amount: 1_000 })))
        .toMatchObject({ _tag: "InvalidTicketAction", reason: "wrong_type" })
      expect(await typedRejectionOf(() => bank.tickets.create({ phone, type: "LOST" } as any))).toMatchObject({ _tag: "ValidationError" })
      expect(await typedRejectionOf(() => bank.tickets.create({ phone: "0111 234 567", type: "KHAC" }))).toMatchObject({ _tag: "InvalidPhone" })

      // cancel: once; a cancelled ticket takes no action; a completed one cannot be cancelled
      const cancelled = await bank.tickets.cancel(other.ticket.code, { actor: "staff:lan" })
      expect(cancelled.status).toBe("cancelled")
      expect(await bank.tickets.cancel(other.ticket.code)).toEqual(cancelled)
      expect((await typedRejectionOf(() => bank.tickets.act(other.ticket.code, { action: "transition", to: "processing" })))._tag)
        .toMatch(/^(InvalidTransition|InvalidTicketAction)$/)
      await bank.tickets.act(code, { action: "transition", to: "waiting_carrier" })
      const done = await bank.tickets.act(code, { action: "transition", to: "completed" })
      expect(done.ticket.status).toBe("completed")
      expect(await typedRejectionOf(() => bank.tickets.cancel(code))).toMatchObject({ _tag: "InvalidTransition", from: "completed" })
      expect(await bank.tickets.stats(phone)).toMatchObject({ completed: 1, boom: 1, returns: 1 })
      expect((await bank.tickets.list({ phone, status: "cancelled" })).items.map((t) => t.code)).toEqual([other.ticket.code])
    })

    it("transfers: receiveSepay with the key (matched, deposited once; a redelivery is duplicate: true), without it WebhookUnauthorized; pending, resolve, TransferAlreadyLinked, get, qr", async () => {
      const phone = freshPhone()
      const customer = await bank.customers.create({ phone, name: "Chuyển khoản" })
      const before = await bank.transfers.unlinked({ limit: 100 })
      // a wrong key, no key, another scheme: refused, nothing stored
      for (const header of ["Apikey wrong-key-0000", undefined, `Bearer ${SEPAY_KEY}`, SEPAY_KEY, ""]) {
        expect(await typedRejectionOf(() => bank.transfers.receiveSepay(sepayBody(`CK ${phone}`), header)))
          .toMatchObject({ _tag: "WebhookUnauthorized" })
      }
      // the instance without a key refuses every delivery
      expect(await typedRejectionOf(() => c360.transfers.receiveSepay(sepayBody(`CK ${phone}`), AUTH))).toMatchObject({ _tag: "WebhookUnauthorized" })
      expect(await bank.wallets.get(phone)).toMatchObject({ balance: 0 })
      expect((await bank.transfers.unlinked({ limit: 100 })).total).toBe(before.total)

      const body = sepayBody(`MBVCB CK ${phone.slice(0, 4)}.${phone.slice(4, 7)}.${phone.slice(7)} tien hang`, 275_000)
      const received = await bank.transfers.receiveSepay(body, AUTH)
      expect(received.duplicate).toBe(false)
      expect(received.transfer).toMatchObject({ status: "matched", customerId: customer.id, amount: 275_000, providerId: String(body.id) })
      expect(received.transfer.depositTransactionId).not.toBeNull()
      const redelivered = await bank.transfers.receiveSepay(body, AUTH)
      expect(redelivered).toEqual({ transfer: received.transfer, duplicate: true })
      expect(await bank.wallets.get(phone)).toMatchObject({ balance: 275_000 })
      expect(await bank.transfers.get(received.transfer.id)).toEqual(received.transfer)

      // no phone in the content: pending for staff, then resolved once
      const pending = await bank.transfers.receiveSepay(sepayBody("THANH TOAN DON HANG", 30_000), AUTH)
      expect(pending.transfer).toMatchObject({ status: "pending", customerId: null })
      expect((await bank.transfers.pending({ limit: 100 })).items.map((t) => t.id)).toContain(pending.transfer.id)
      const resolved = await bank.transfers.resolve(pending.transfer.id, { phone }, { actor: "staff:binh" })
      expect(resolved.transfer).toMatchObject({ customerId: customer.id, linkedBy: "staff:binh" })
      expect(resolved.deposit).not.toBeNull()
      expect(await bank.wallets.get(phone)).toMatchObject({ balance: 305_000 })
      expect((await bank.transfers.pending({ limit: 100 })).items.map((t) => t.id)).not.toContain(pending.transfer.id)
      expect(await typedRejectionOf(() => bank.transfers.resolve(pending.transfer.id, { phone: freshPhone() })))
        .toMatchObject({ _tag: "TransferAlreadyLinked", id: pending.transfer.id, customerId: customer.id })
      expect(await typedRejectionOf(() => bank.transfers.link({ transactionId: received.transfer.id, phone: freshPhone() })))
        .toMatchObject({ _tag: "TransferAlreadyLinked", id: received.transfer.id })
      expect(await bank.wallets.get(phone)).toMatchObject({ balance: 305_000 })
      expect(await typedRejectionOf(() => bank.transfers.get("trf_00000000000000000000000000"))).toMatchObject({ _tag: "TransferNotFound" })
      expect(await typedRejectionOf(() => bank.transfers.resolve("trf_00000000000000000000000000", { phone }))).toMatchObject({ _tag: "TransferNotFound" })
      expect(await typedRejectionOf(() => bank.transfers.receiveSepay({ id: 1 }, AUTH))).toMatchObject({ _tag: "ValidationError" })

      // the customer's QR: its payment code, paid into the configured account
      const qr = await bank.transfers.qr(`+84 ${phone.slice(1)}`, { amount: 250_000 })
      expect(qr.code).toBe(customer.paymentCode)
      expect(qr.payload).toEqual(expect.stringContaining(BANK_ACCOUNT))
      expect(qr.payload).toEqual(expect.stringContaining(customer.paymentCode))
      expect((await c360.customers.create({ phone, name: "Unconfigured" })).phone).toBe(phone)
      expect((await c360.transfers.qr(phone)).payload).toBeNull()
      expect(await typedRejectionOf(() => bank.transfers.qr(phone, { amount: -1 }))).toMatchObject({ _tag: "ValidationError" })
      expect(await typedRejectionOf(() => bank.transfers.qr(freshPhone()))).toMatchObject({ _tag: "CustomerNotFound" })
      expect(await typedRejectionOf(() => bank.transfers.vietQr({ bankBin: "12", accountNumber: "x", content: "y" })))
        .toMatchObject({ _tag: "InvalidVietQr" })
    })

    it("notes: add (the author defaults to the actor), list newest first, activities by kind; no call edits a note; ValidationError, CustomerNotFound", async () => {
      const phone = freshPhone()
      const customer = await bank.customers.create({ phone, name: "Ghi chú" })
      const first = await bank.notes.add(phone, { text: "gọi lại lúc 5 giờ" }, { actor: "staff:lan" })
      expect(first).toMatchObject({ customerId: customer.id, author: "staff:lan", text: "gọi lại lúc 5 giờ" })
      const second = await bank.notes.add(`+84 ${phone.slice(1)}`, { text: "dòng một\ndòng hai", author: "Hoa" })
      expect(second.author).toBe("Hoa")
      expect((await bank.notes.add(phone, { text: "third" })).author).toBe("system")
      const page = await bank.notes.list(phone, { limit: 2 })
      expect(page.items).toHaveLength(2)
      expect(page.nextCursor).not.toBeNull()
      const rest = await bank.notes.list(phone, { limit: 2, cursor: page.nextCursor })
      expect(rest.nextCursor).toBeNull()
      const all = [...page.items, ...rest.items]
      expect(new Set(all.map((n) => n.id)).size).toBe(3)
      expect(all.map((n) => n.id)).toContain(first.id)
      for (let i = 1; i < all.length; i++) {
        const [a, b] = [all[i - 1]!, all[i]!]
        expect(a.createdAt.getTime() > b.createdAt.getTime() || (a.createdAt.getTime() === b.createdAt.getTime() && a.id > b.id)).toBe(true)
      }
      expect(Object.keys(bank.notes).sort()).toEqual(["activities", "add", "list"])
      const activities = await bank.notes.activities(phone, { kinds: ["customer.created"] })
      expect(activities.items.map((a) => [a.kind, a.actor])).toEqual([["customer.created", "system:customer_hub"]])
      await bank.customers.update(customer.id, { city: "Huế" }, { actor: "staff:an" })
      expect((await bank.notes.activities(phone, { kinds: ["customer.updated"] })).items.map((a) => [a.actor, a.data]))
        .toEqual([["staff:an", { fields: ["city"] }]])
      expect(await typedRejectionOf(() => bank.notes.add(phone, { text: "" }))).toMatchObject({ _tag: "ValidationError" })
      expect(await typedRejectionOf(() => bank.notes.add(phone, { text: "x".repeat(2_001) }))).toMatchObject({ _tag: "ValidationError" })
      expect(await typedRejectionOf(() => bank.notes.add(phone, { text: "a\u0000b" }))).toMatchObject({ _tag: "ValidationError" })
      expect(await typedRejectionOf(() => bank.notes.add(freshPhone(), { text: "nobody" }))).toMatchObject({ _tag: "CustomerNotFound" })
      expect(await typedRejectionOf(() => bank.notes.list(phone, { cursor: "nope" }))).toMatchObject({ _tag: "ValidationError" })
      expect((await bank.notes.list(phone, { limit: 100 })).items).toHaveLength(3)
    })

    it("c360.timeline(phone) is callable and equals c360.timeline.timeline(phone); its pages walk to the whole stream; kinds; a bad cursor is a ValidationError", async () => {
      const phone = freshPhone()
      await bank.customers.create({ phone, name: "Dòng thời gian" })
      await bank.wallets.deposit({ phone, amount: 10_000, reference: `ftl-${phone}`, source: "manual" })
      await bank.notes.add(phone, { text: "a note" })
      const { ticket } = await bank.tickets.create({ phone, type: "KHAC", note: "opened" })
      await bank.tickets.act(ticket.code, { action: "transition", to: "processing" })
      await bank.transfers.receiveSepay(sepayBody(`CK ${phone}`, 5_000), AUTH)
      const whole = await bank.timeline(phone, { limit: 100 })
      expect(whole).toEqual(await bank.timeline.timeline(phone, { limit: 100 }))
      expect(whole.nextCursor).toBeNull()
      expect(new Set(whole.items.map((e) => e.kind))).toEqual(new Set(["ledger", "transfer", "ticket", "note", "activity"]))
      expect(whole.items.filter((e) => e.kind === "ledger")).toHaveLength(2)
      expect(whole.items.filter((e) => e.kind === "ticket")).toHaveLength(3)
      expect(whole.items.filter((e) => e.kind === "activity").map((e) => (e.data as { kind: string }).kind)).toEqual(["customer.created"])
      for (let i = 1; i < whole.items.length; i++) {
        expect(whole.items[i - 1]!.at.getTime()).toBeGreaterThanOrEqual(whole.items[i]!.at.getTime())
      }
      expect(await bank.timeline(`+84 ${phone.slice(1)}`)).toEqual(await bank.timeline.timeline(phone))
      // page by page, through either spelling
      const walked: Array<unknown> = []
      let cursor: string | null = null
      let turn = 0
      do {
        const page: Awaited<ReturnType<typeof bank.timeline>> = turn++ % 2 === 0
          ? await bank.timeline(phone, { limit: 2, cursor })
          : await bank.timeline.timeline(phone, { limit: 2, cursor })
        walked.push(...page.items)
        cursor = page.nextCursor
      } while (cursor !== null)
      expect(walked).toEqual(whole.items)
      expect((await bank.timeline(phone, { kinds: ["note"] })).items.map((e) => e.kind)).toEqual(["note"])
      expect(await typedRejectionOf(() => bank.timeline(phone, { cursor: "nope!" }))).toMatchObject({ _tag: "ValidationError" })
      expect(await typedRejectionOf(() => bank.timeline.timeline(phone, { limit: 0 }))).toMatchObject({ _tag: "ValidationError" })
      expect(await typedRejectionOf(() => bank.timeline(phone, { kinds: ["nope" as never] }))).toMatchObject({ _tag: "ValidationError" })
      expect(await typedRejectionOf(() => bank.timeline(freshPhone()))).toMatchObject({ _tag: "CustomerNotFound" })
      expect(await typedRejectionOf(() => bank.timeline("not a phone"))).toMatchObject({ _tag: "InvalidPhone" })
    })

    it("c360.jobs.ticketDeadlines() raises, once, open tickets whose carrier deadline is less than 24 h away", async () => {
      const phone = freshPhone()
      const soon = await bank.tickets.create({ phone, type: "KHAC", carrier: "GHN", carrierDeadline: new Date(Date.now() + 3_600_000) })
      const later = await bank.tickets.create({ phone, type: "KHAC", carrierDeadline: new Date(Date.now() + 5 * 86_400_000) })
      const first = await bank.jobs.ticketDeadlines()
      expect(first.escalated).toBeGreaterThanOrEqual(1)
      const raised = await bank.tickets.get(soon.ticket.code)
      expect(raised.ticket).toMatchObject({ priority: "high" })
      expect(raised.ticket.escalatedAt).not.toBeNull()
      expect(raised.history.map((h) => h.kind)).toContain("escalated")
      expect((await bank.tickets.get(later.ticket.code)).ticket.priority).toBe("normal")
      await bank.jobs.ticketDeadlines({ batchSize: 10 })
      expect(await bank.tickets.get(soon.ticket.code)).toEqual(raised)
      expect(await typedRejectionOf(() => bank.jobs.ticketDeadlines({ batchSize: 0 }))).toMatchObject({ _tag: "ValidationError" })
      expect(await typedRejectionOf(() => bank.jobs.ticketDeadlines({ batchSize: "10" } as any))).toMatchObject({ _tag: "ValidationError" })
    })

    it("property: arbitrary values for every argument of every tickets, transfers, notes, timeline and jobs call never escape as untyped errors, a defect or InternalError", async () => {
      const phone = freshPhone()
      await bank.customers.create({ phone, name: "Fuzzed 0.2" })
      const { ticket } = await bank.tickets.create({ phone, type: "BOOM", amount: 10_000 })
      const pending = await bank.transfers.receiveSepay(sepayBody("KHONG CO SO", 1_000), AUTH)
      const code = ticket.code
      const id = pending.transfer.id
      type Call = (a: unknown, b: unknown, c: unknown) => Promise<unknown>
      const calls: ReadonlyArray<Call> = [
        (a, b) => bank.tickets.create(a as any, b as any),
        (a, b) => bank.tickets.create({ phone, type: "KHAC", ...(a as object) } as any, b as any),
        (a) => bank.tickets.get(a as any),
        (a) => bank.tickets.list(a as any),
        (a, b, c) => bank.tickets.update(a as any, b as any, c as any),
        (a, b) => bank.tickets.update(code, a as any, b as any),
        (a, b) => bank.tickets.cancel(a as any, b as any),
        (a, b, c) => bank.tickets.act(a as any, b as any, c as any),
        (a, b) => bank.tickets.act(code, a as any, b as any),
        (a) => bank.tickets.stats(a as any),
        (a, b) => bank.transfers.receiveSepay(a, b as any),
        (a) => bank.transfers.receiveSepay(a, AUTH),
        (a) => bank.transfers.receiveSepay({ ...sepayBody(`CK ${phone}`, 1), ...(a as object) }, AUTH),
        (a) => bank.transfers.unlinked(a as any),
        (a) => bank.transfers.pending(a as any),
        (a) => bank.transfers.get(a as any),
        (a, b) => bank.transfers.link(a as any, b as any),
        (a, b, c) => bank.transfers.resolve(a as any, b as any, c as any),
        (a, b) => bank.transfers.resolve(id, a as any, b as any),
        (a, b) => bank.transfers.qr(a as any, b as any),
        (a) => bank.transfers.qr(phone, a as any),
        (a) => bank.transfers.vietQr(a as any),
        (a, b, c) => bank.notes.add(a as any, b as any, c as any),
        (a, b) => bank.notes.add(phone, a as any, b as any),
        (a, b) => bank.notes.list(a as any, b as any),
        (a) => bank.notes.list(phone, a as any),
        (a, b) => bank.notes.activities(a as any, b as any),
        (a) => bank.notes.activities(phone, a as any),
        (a, b) => bank.timeline(a as any, b as any),
        (a) => bank.timeline(phone, a as any),
        (a, b) => bank.timeline.timeline(a as any, b as any),
        (a) => bank.timeline.timeline(phone, a as any),
        (a) => bank.jobs.ticketDeadlines(a as any)
      ]
      let rejected = 0
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: calls.length - 1 }), fc.anything(), fc.anything(), fc.anything(), async (which, a, b, c) => {
          try {
            await calls[which]!(a, b, c)
          } catch (e) {
            expectTypedV2(e)
            rejected++
          }
        }),
        { numRuns: 600 }
      )
      expect(rejected).toBeGreaterThan(300)
      // the fixtures are intact
      expect((await bank.tickets.get(code)).ticket).toMatchObject({ customerId: ticket.customerId, type: "BOOM" })
    })

    it("an argument nested more than 64 levels deep is a ValidationError on every new call, never InternalError", async () => {
      const phone = freshPhone()
      await bank.customers.create({ phone, name: "Deep 0.2" })
      const { ticket } = await bank.tickets.create({ phone, type: "KHAC" })
      let deep: unknown = 1
      for (let i = 0; i < 3_000; i++) deep = [deep]
      const calls: ReadonlyArray<() => Promise<unknown>> = [
        () => bank.tickets.create({ phone, type: "KHAC", note: deep } as any),
        () => bank.tickets.act(ticket.code, { action: "note", text: deep } as any),
        () => bank.tickets.update(ticket.code, { carrier: deep } as any),
        () => bank.tickets.list(deep as any),
        () => bank.transfers.receiveSepay(deep, AUTH),
        () => bank.transfers.resolve(deep as any, { phone }),
        () => bank.transfers.qr(phone, deep as any),
        () => bank.notes.add(phone, { text: deep } as any),
        () => bank.notes.activities(phone, { kinds: deep } as any),
        () => bank.timeline(phone, { cursor: deep } as any),
        () => bank.timeline.timeline(deep as any),
        () => bank.jobs.ticketDeadlines({ batchSize: deep } as any)
      ]
      for (const call of calls) {
        expect(await typedRejectionOf(call)).toMatchObject({
          _tag: "ValidationError",
          message: "The input nests arrays or objects more than 64 levels deep"
        })
      }
      expect((await bank.tickets.get(ticket.code)).history).toHaveLength(1)
      expect((await bank.notes.list(phone)).items).toEqual([])
    })
  })
})
