/**
 * The customer contract: every behaviour of DOMAIN §2 that storage and services must keep,
 * run against SQLite (customers.sqlite.test.ts) and PostgreSQL (customers.pg.test.ts).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import * as EventBus from "../../src/platform/EventBus.js"
import type { StoragePorts } from "../../src/storage/Storage.js"
import { type Customer, customerToJson, makeCustomerId } from "../../src/customers/Customer.js"
import type { CustomerCreated, StoredEvent } from "../../src/kernel/Events.js"
import type { Phone } from "../../src/kernel/Phone.js"
import { CustomerRepository } from "../../src/customers/CustomerRepository.js"
import * as Config from "../../src/kernel/Config.js"
import * as Registry from "../../src/modules.js"
import * as WalletsService from "../../src/wallets/Wallets.js"
import { Outbox } from "../../src/platform/Outbox.js"
import { Customers, type CustomersShape } from "../../src/customers/Customers.js"

/** Every service over the given storage, with the storage itself exposed for assertions. */
export const servicesOver = <E>(storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>) =>
  Registry.services.pipe(
    Layer.provideMerge(Layer.mergeAll(Config.layerDefault, EventBus.layer)),
    Layer.provideMerge(storage)
  )

let counter = Math.floor(Math.random() * 400_000)
/** A fresh valid mobile number (0912 + 6 digits) no other test uses. */
export const freshPhone = (): string => `0912${String(counter++).padStart(6, "0")}`
/** A fresh word of letters, for names no other test uses. */
export const freshWord = (): string =>
  Array.from({ length: 8 }, () => "bcdfghjklmnpqrstvwxz"[Math.floor(Math.random() * 20)]).join("")

const countByPhone = (phone: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_customers WHERE phone = ${phone}`.pipe(
      Effect.map((rows) => Number(rows[0]?.n)),
      Effect.orDie
    ))

const countAll = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ n: unknown }>`SELECT count(*) AS n FROM c360_customers`.pipe(Effect.map((rows) => Number(rows[0]?.n)), Effect.orDie))

/** A position in the outbox; `eventsSince` reads the customer events committed after it. */
export const outboxMark = Effect.flatMap(Outbox, (outbox) => outbox.end)
export const eventsSince = (mark: string) =>
  Effect.flatMap(Outbox, (outbox) => outbox.read(mark, 10_000)).pipe(
    Effect.map((events) => events.filter((e): e is CustomerCreated & StoredEvent => e.type === "customer.created"))
  )

export const customerContract = <E>(
  name: string,
  storage: Layer.Layer<StoragePorts | SqlClient.SqlClient, E>
) =>
  layer(servicesOver(storage), { timeout: "60 seconds" })(name, (it) => {
    it.effect("create stores the canonical phone and the defaults, and finds it back by any format", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        yield* TestClock.setTime(Date.UTC(2026, 0, 2, 3, 4, 5))
        const phone = freshPhone()
        const created = yield* customers.create({
          phone: `+84 ${phone.slice(1, 4)} ${phone.slice(4, 7)} ${phone.slice(7)}`,
          name: "  Nguyễn Văn An  ",
          email: "An.Nguyen@Example.vn",
          birthDate: "1990-02-28",
          gender: "male",
          notes: "line one\nline two"
        })
        expect(created.phone).toBe(phone)
        expect(created.name).toBe("Nguyễn Văn An")
        expect(created).toMatchObject({
          type: "walk-in",
          status: "active",
          tier: "new",
          membershipLevel: "bronze",
          points: 0,
          totalOrders: 0,
          totalSpent: 0,
          lastPurchaseAt: null,
          source: "customer_hub"
        })
        expect(created.createdAt.toISOString()).toBe("2026-01-02T03:04:05.000Z")
        const byPhone = yield* customers.findByPhone(`0084-${phone.slice(1)}`)
        expect(Option.getOrThrow(byPhone)).toEqual(created)
        const byId = yield* customers.findById(created.id)
        expect(Option.getOrThrow(byId)).toEqual(created)
        expect(Option.isNone(yield* customers.findByPhone(freshPhone()))).toBe(true)
        expect(Option.isNone(yield* customers.findById(makeCustomerId(0, new Uint8Array(10))))).toBe(true)
      }))

    it.effect("create on a taken phone (another format) or e-mail (another case) fails CustomerExists and writes nothing", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const phone = freshPhone()
        const email = `${freshWord()}@shop.vn`
        yield* customers.create({ phone, name: "First", email })
        const before = yield* countAll
        const samePhone = yield* Effect.flip(customers.create({ phone: `84${phone.slice(1)}`, name: "Second" }))
        expect(samePhone).toMatchObject({ _tag: "CustomerExists", field: "phone", value: phone })
        const sameEmail = yield* Effect.flip(customers.create({ phone: freshPhone(), name: "Third", email: email.toUpperCase() }))
        expect(sameEmail).toMatchObject({ _tag: "CustomerExists", field: "email" })
        expect(sameEmail.message).toContain("already exists")
        expect(yield* countAll).toBe(before)
      }))

    it.effect("bad input fails with InvalidPhone or ValidationError and writes nothing", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const before = yield* countAll
        const invalid = yield* Effect.flip(customers.create({ phone: "0111 234 567", name: "X" }))
        expect(invalid).toMatchObject({ _tag: "InvalidPhone", reason: "unknown_prefix" })
        const noName = yield* Effect.flip(customers.create({ phone: freshPhone(), name: "   " }))
        expect(noName._tag).toBe("ValidationError")
        const nul = yield* Effect.flip(customers.create({ phone: freshPhone(), name: "A\u0000B" }))
        expect(nul._tag).toBe("ValidationError")
        const extra = yield* Effect.flip(customers.create({ phone: freshPhone(), name: "A", nmae: "typo" } as any))
        expect(extra).toMatchObject({ _tag: "ValidationError", issues: [{ path: "nmae" }] })
        const badDate = yield* Effect.flip(customers.create({ phone: freshPhone(), name: "A", birthDate: "2023-02-30" }))
        expect(badDate._tag).toBe("ValidationError")
        expect(yield* countAll).toBe(before)
      }))

    it.effect("getOrCreate creates once (with its wallet), then returns the same customer; only the creation writes customer.created", () =>
      Effect.scoped(Effect.gen(function*() {
        const customers = yield* Customers
        const mark = yield* outboxMark
        const phone = freshPhone()
        const first = yield* customers.getOrCreate({ phone: `(+84) (0) ${phone.slice(1)}`, source: "ticket" })
        expect(first.created).toBe(true)
        expect(first.customer).toMatchObject({ phone, name: null, source: "ticket" })
        const second = yield* customers.getOrCreate({ phone, name: "Ignored", source: "bank_transfer" })
        expect(second).toEqual({ customer: first.customer, created: false })
        const published = yield* eventsSince(mark)
        expect(published.map((e) => [e.type, e.subject])).toEqual([["customer.created", first.customer.id]])
        expect(published[0]!.data.source).toBe("ticket")
        expect(yield* countByPhone(phone)).toBe(1)
        const wallet = yield* (yield* WalletsService.Wallets).get(phone)
        expect(wallet).toMatchObject({ customerId: first.customer.id, balance: 0, virtualBalance: 0, available: 0, credits: [] })
      })))

    it.effect("getOrCreate on an old 11-digit number finds the customer stored under the 2018 number", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const suffix = String(1_000_000 + Math.floor(Math.random() * 8_999_999)).slice(0, 7)
        const created = yield* customers.create({ phone: `032${suffix}`, name: "Viettel" })
        const found = yield* customers.getOrCreate({ phone: `0162 ${suffix}`, source: "import" })
        expect(found).toEqual({ customer: created, created: false })
      }))

    it.effect("insertOrGet: concurrent inserts of one phone create exactly one row", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const repo = yield* CustomerRepository
        const phone = freshPhone()
        const template = yield* customers.create({ phone: freshPhone(), name: "template" })
        const attempts = yield* Effect.forEach(
          Array.from({ length: 16 }, (_, i) => i),
          (i) =>
            repo.insertOrGet({
              ...template,
              id: makeCustomerId(Date.now(), new Uint8Array(10).fill(i + 1)),
              phone: phone as Phone
            } as Customer & { phone: Phone }),
          { concurrency: "unbounded" }
        )
        expect(attempts.filter((a) => a.created)).toHaveLength(1)
        expect(new Set(attempts.map((a) => a.customer.id)).size).toBe(1)
        expect(yield* countByPhone(phone)).toBe(1)
      }))

    it.effect("update re-normalises the phone, refreshes the search key and moves updatedAt", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        yield* TestClock.setTime(Date.UTC(2026, 0, 1))
        const word = freshWord()
        const c = yield* customers.create({ phone: freshPhone(), name: `Old ${word}` })
        yield* TestClock.adjust("1 hour")
        const newPhone = freshPhone()
        const updated = yield* customers.update(c.id, {
          phone: `+84.${newPhone.slice(1)}`,
          name: `Đặng Thị ${word}`,
          city: "Hà Nội",
          email: null
        })
        expect(updated).toMatchObject({ id: c.id, phone: newPhone, name: `Đặng Thị ${word}`, city: "Hà Nội" })
        expect(updated.updatedAt.getTime() - updated.createdAt.getTime()).toBe(3_600_000)
        expect(Option.isNone(yield* customers.findByPhone(c.phone!))).toBe(true)
        const byNewName = yield* customers.search({ q: `dang thi ${word}` })
        expect(byNewName.items.map((x) => x.id)).toEqual([c.id])
        expect((yield* customers.search({ q: `old ${word}` })).total).toBe(0)
        const unchanged = yield* customers.update(c.id, {})
        expect(unchanged).toEqual(updated)
      }))

    it.effect("update keeps uniqueness: a taken phone or e-mail fails CustomerExists and changes nothing", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const email = `${freshWord()}@shop.vn`
        const a = yield* customers.create({ phone: freshPhone(), name: "A", email })
        const b = yield* customers.create({ phone: freshPhone(), name: "B" })
        const phoneClash = yield* Effect.flip(customers.update(b.id, { phone: a.phone!, name: "B2" }))
        expect(phoneClash).toMatchObject({ _tag: "CustomerExists", field: "phone" })
        const emailClash = yield* Effect.flip(customers.update(b.id, { email: email.toUpperCase() }))
        expect(emailClash).toMatchObject({ _tag: "CustomerExists", field: "email" })
        expect(Option.getOrThrow(yield* customers.findById(b.id))).toEqual(b)
        const missing = yield* Effect.flip(customers.update(makeCustomerId(1, new Uint8Array(10)), { name: "x" }))
        expect(missing).toMatchObject({ _tag: "CustomerNotFound", by: "id" })
        const badId = yield* Effect.flip(customers.update("42", { name: "x" }))
        expect(badId._tag).toBe("ValidationError")
        const badPhone = yield* Effect.flip(customers.update(b.id, { phone: "12" }))
        expect(badPhone).toMatchObject({ _tag: "InvalidPhone", reason: "wrong_length" })
      }))

    it.effect("delete is soft: status inactive, left out of search by default, phone still taken", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        const word = freshWord()
        const c = yield* customers.create({ phone: freshPhone(), name: `Gone ${word}` })
        const deleted = yield* customers.delete(c.id)
        expect(deleted).toMatchObject({ id: c.id, status: "inactive", phone: c.phone, name: c.name })
        expect((yield* customers.delete(c.id)).status).toBe("inactive")
        expect((yield* customers.search({ q: word })).total).toBe(0)
        expect((yield* customers.search({ q: word, status: "inactive" })).items.map((x) => x.id)).toEqual([c.id])
        expect(Option.getOrThrow(yield* customers.findByPhone(c.phone!)).status).toBe("inactive")
        expect(yield* customers.getOrCreate({ phone: c.phone!, source: "ticket" })).toMatchObject({ created: false })
        expect((yield* Effect.flip(customers.create({ phone: c.phone!, name: "New" })))._tag).toBe("CustomerExists")
        const restored = yield* customers.update(c.id, { status: "active" })
        expect(restored.status).toBe("active")
        const missing = yield* Effect.flip(customers.delete(makeCustomerId(2, new Uint8Array(10))))
        expect(missing._tag).toBe("CustomerNotFound")
      }))

    it.effect("search folds accents and case, matches phone fragments in any format, and paginates newest first", () =>
      Effect.gen(function*() {
        const customers = yield* Customers
        yield* TestClock.setTime(Date.UTC(2026, 5, 1))
        const word = freshWord()
        const names = [`${word} Nguyễn Văn`, `${word} NGUYỄN THỊ`, `${word} Trần Đức`]
        const made: Array<Customer> = []
        for (const name of names) {
          made.push(yield* customers.create({ phone: freshPhone(), name, type: name.endsWith("Đức") ? "vip" : "member" }))
          yield* TestClock.adjust("1 second")
        }
        const nguyen = yield* customers.search({ q: `${word} nguyen`.toUpperCase() })
        expect(nguyen.items.map((c) => c.name)).toEqual([names[1], names[0]])
        expect(nguyen.total).toBe(2)
        expect((yield* customers.search({ q: `${word}  trần đức` })).items.map((c) => c.id)).toEqual([made[2]!.id])
        const vip = yield* customers.search({ q: word, type: "vip" })
        expect(vip.items.map((c) => c.id)).toEqual([made[2]!.id])
        const page1 = yield* customers.search({ q: word, limit: 2, page: 1 })
        const page2 = yield* customers.search({ q: word, limit: 2, page: 2 })
        expect(page1).toMatchObject({ total: 3, page: 1, limit: 2 })
        expect([...page1.items, ...page2.items].map((c) => c.id)).toEqual([made[2]!.id, made[1]!.id, made[0]!.id])
        const phone = made[0]!.phone!
        for (const q of [phone, phone.slice(3, 9), `+84 ${phone.slice(1, 6)}`, `${phone.slice(0, 4)}.${phone.slice(4, 7)}`]) {
          const hits = yield* customers.search({ q })
          expect(hits.items.map((c) => c.id), q).toContain(made[0]!.id)
        }
        expect((yield* customers.search({ q: `%${word}` })).total).toBe(0)
        expect((yield* customers.search({ q: `${word}_` })).total).toBe(0)
        const bad = yield* Effect.flip(customers.search({ limit: 1000 }))
        expect(bad._tag).toBe("ValidationError")
      }))

    it.effect("customer.created is written to the outbox with a unique id and the customer, for every source", () =>
      Effect.scoped(Effect.gen(function*() {
        const customers = yield* Customers
        const mark = yield* outboxMark
        const a = yield* customers.create({ phone: freshPhone(), name: "A", source: "import" })
        const b = yield* customers.getOrCreate({ phone: freshPhone(), source: "bank_transfer" })
        yield* Effect.flip(customers.create({ phone: a.phone!, name: "dup" }))
        const published = yield* eventsSince(mark)
        expect(published.map((e) => [e.subject, e.data.source])).toEqual([[a.id, "import"], [b.customer.id, "bank_transfer"]])
        expect(new Set(published.map((e) => e.id)).size).toBe(2)
        expect(published[0]!.data.customer).toEqual(customerToJson(a))
      })))

    it.effect("model-based: random create/getOrCreate/update/delete/find sequences agree with an in-memory model", () =>
      Effect.gen(function*() {
        const runtime = yield* Effect.runtime<Customers>()
        const run = Runtime.runPromise(runtime)
        const customers = yield* Customers
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.commands(commandArbitraries, { maxCommands: 25 }), async (commands) => {
              const namespace = String(namespaces++ % 10_000).padStart(4, "0")
              const setup = () => ({
                model: { byId: new Map<string, ModelCustomer>(), ids: [] as Array<string>, namespace },
                real: { customers, run }
              })
              await fc.asyncModelRun(setup, commands)
            }),
            { numRuns: 25 }
          )
        )
      }), { timeout: 120_000 })
  })

// --- model-based test ------------------------------------------------------------------------

interface ModelCustomer {
  phone: string
  email: string | null
  name: string | null
  status: "active" | "inactive" | "blocked"
}
interface Model {
  readonly byId: Map<string, ModelCustomer>
  readonly ids: Array<string>
  readonly namespace: string
}
interface Real {
  readonly customers: CustomersShape
  readonly run: <A, E>(effect: Effect.Effect<A, E, Customers>) => Promise<A>
}

let namespaces = Math.floor(Math.random() * 10_000)
/** Six phones and three e-mails per run, so that collisions are frequent. */
const phoneOf = (m: Model, i: number) => `0913${m.namespace}${String(i).padStart(2, "0")}`
const emailOf = (m: Model, i: number) => `m${m.namespace}-${i}@test.vn`
const formats = [
  (p: string) => p,
  (p: string) => `+84 ${p.slice(1)}`,
  (p: string) => `${p.slice(0, 4)}.${p.slice(4, 7)}.${p.slice(7)}`,
  (p: string) => `0084-${p.slice(1)}`
]
const holderOf = (m: Model, phone: string) => [...m.byId.entries()].find(([, c]) => c.phone === phone)?.[0]
const emailTaken = (m: Model, email: string, except?: string) =>
  [...m.byId.entries()].some(([id, c]) => id !== except && c.email === email)

/** The field of a `CustomerExists` failure, or a description of whatever else happened. */
const existsField = (result: Either.Either<unknown, { _tag: string }>): string =>
  Either.isLeft(result) && result.left._tag === "CustomerExists"
    ? (result.left as unknown as { field: string }).field
    : `not CustomerExists: ${Either.isLeft(result) ? result.left._tag : "success"}`

const settle = async <A>(real: Real, effect: Effect.Effect<A, unknown, Customers>) =>
  real.run(Effect.either(effect)) as Promise<Either.Either<A, { _tag: string }>>

class CreateCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly phone: number, readonly email: number | null, readonly format: number) {}
  check = () => true
  async run(m: Model, r: Real) {
    const phone = phoneOf(m, this.phone)
    const email = this.email === null ? null : emailOf(m, this.email)
    const result = await settle(r, r.customers.create({ phone: formats[this.format]!(phone), name: `N${this.phone}`, email }))
    const clashes = [
      ...(holderOf(m, phone) !== undefined ? ["phone"] : []),
      ...(email !== null && emailTaken(m, email) ? ["email"] : [])
    ]
    if (clashes.length > 0) {
      // When both are taken, which one the database reports first is not specified.
      expect(clashes).toContain(existsField(result))
    } else {
      const c = Either.getOrThrow(result)
      expect(c.phone).toBe(phone)
      m.byId.set(c.id, { phone, email, name: `N${this.phone}`, status: "active" })
      m.ids.push(c.id)
    }
  }
  toString = () => `create(${this.phone}, ${this.email})`
}

class GetOrCreateCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly phone: number, readonly format: number) {}
  check = () => true
  async run(m: Model, r: Real) {
    const phone = phoneOf(m, this.phone)
    const holder = holderOf(m, phone)
    const result = Either.getOrThrow(
      await settle(r, r.customers.getOrCreate({ phone: formats[this.format]!(phone), source: "ticket" }))
    )
    expect(result.created).toBe(holder === undefined)
    if (holder === undefined) {
      m.byId.set(result.customer.id, { phone, email: null, name: null, status: "active" })
      m.ids.push(result.customer.id)
    } else {
      expect(result.customer.id).toBe(holder)
    }
  }
  toString = () => `getOrCreate(${this.phone})`
}

class UpdateCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly target: number, readonly phone: number | null, readonly email: number | null | undefined) {}
  check = (m: Readonly<Model>) => m.ids.length > 0
  async run(m: Model, r: Real) {
    const id = m.ids[this.target % m.ids.length]!
    const current = m.byId.get(id)!
    const phone = this.phone === null ? undefined : phoneOf(m, this.phone)
    const email = this.email === undefined ? undefined : this.email === null ? null : emailOf(m, this.email)
    const patch = { ...(phone === undefined ? {} : { phone }), ...(email === undefined ? {} : { email }) }
    const result = await settle(r, r.customers.update(id, patch))
    const phoneHolder = phone === undefined ? undefined : holderOf(m, phone)
    const clashes = [
      ...(phoneHolder !== undefined && phoneHolder !== id ? ["phone"] : []),
      ...(email != null && emailTaken(m, email, id) ? ["email"] : [])
    ]
    if (clashes.length > 0) {
      expect(clashes).toContain(existsField(result))
    } else {
      const c = Either.getOrThrow(result)
      if (phone !== undefined) current.phone = phone
      if (email !== undefined) current.email = email
      expect({ phone: c.phone, email: c.email }).toEqual({ phone: current.phone, email: current.email })
    }
  }
  toString = () => `update(#${this.target}, phone ${this.phone}, email ${this.email})`
}

class DeleteCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly target: number) {}
  check = (m: Readonly<Model>) => m.ids.length > 0
  async run(m: Model, r: Real) {
    const id = m.ids[this.target % m.ids.length]!
    const c = Either.getOrThrow(await settle(r, r.customers.delete(id)))
    expect(c.status).toBe("inactive")
    m.byId.get(id)!.status = "inactive"
  }
  toString = () => `delete(#${this.target})`
}

class FindByPhoneCommand implements fc.AsyncCommand<Model, Real> {
  constructor(readonly phone: number, readonly format: number) {}
  check = () => true
  async run(m: Model, r: Real) {
    const phone = phoneOf(m, this.phone)
    const found = Either.getOrThrow(await settle(r, r.customers.findByPhone(formats[this.format]!(phone))))
    const holder = holderOf(m, phone)
    expect(Option.map(found, (c) => c.id)).toEqual(holder === undefined ? Option.none() : Option.some(holder))
    if (holder !== undefined) {
      const expected = m.byId.get(holder)!
      expect(Option.map(found, (c) => ({ email: c.email, status: c.status }))).toEqual(
        Option.some({ email: expected.email, status: expected.status })
      )
    }
  }
  toString = () => `findByPhone(${this.phone})`
}

const phoneIdx = fc.integer({ min: 0, max: 5 })
const emailIdx = fc.integer({ min: 0, max: 2 })
const format = fc.integer({ min: 0, max: formats.length - 1 })
const commandArbitraries = [
  fc.tuple(phoneIdx, fc.option(emailIdx), format).map(([p, e, f]) => new CreateCommand(p, e, f)),
  fc.tuple(phoneIdx, format).map(([p, f]) => new GetOrCreateCommand(p, f)),
  fc.tuple(fc.nat(), fc.option(phoneIdx), fc.oneof(fc.constant(undefined), fc.constant(null), emailIdx)).map(
    ([t, p, e]) => new UpdateCommand(t, p, e)
  ),
  fc.nat().map((t) => new DeleteCommand(t)),
  fc.tuple(phoneIdx, format).map(([p, f]) => new FindByPhoneCommand(p, f))
]
