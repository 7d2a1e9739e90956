/**
 * `c360.identity` through the Promise facade, with the `sms` and `mailer` options: the host's
 * objects receive the messages after the commit; a rejecting `send` changes no answer; a bad option
 * is refused.
 */
import { describe, expect, it } from "vitest"
import { createCustomer360 } from "../src/index.js"
import type { EmailMessage, SmsMessage } from "../src/identity/Ports.js"
import { freshPhone, freshWord } from "./contract/customers.js"

const small = { password: { ln: 10, r: 8, p: 1 } }

describe("c360.identity (Promise facade)", () => {
  it("registers, verifies, logs in, completes a profile and links a walk-in profile, the messages going through the host's mailer and sms", async () => {
    const emails: Array<EmailMessage> = []
    const sms: Array<SmsMessage> = []
    const c360 = await createCustomer360({
      database: { sqlite: { filename: ":memory:" } },
      identity: small,
      mailer: { send: async (m) => void emails.push(m) },
      sms: { send: async (m) => void sms.push(m) }
    })
    try {
      expect(Object.keys(c360.identity).sort()).toEqual(["completeProfile", "confirmLink", "login", "register", "requestLink", "verifyEmail"])
      const email = `${freshWord()}@example.vn`
      const { customer: stub, user } = await c360.identity.register({ email, password: "mật khẩu dài 123" })
      expect(emails).toHaveLength(1)
      await expect(c360.identity.login(email, "mật khẩu dài 123")).rejects.toMatchObject({ _tag: "InvalidCredentials" })
      expect(await c360.identity.verifyEmail(emails[0]!.token)).toMatchObject({ id: user.id, active: true })
      expect((await c360.identity.login(email, "mật khẩu dài 123")).id).toBe(user.id)
      const walkIn = await c360.customers.create({ phone: freshPhone(), name: "Chị Lan" })
      await expect(c360.identity.completeProfile(user.id, { name: "Lan", phone: walkIn.phone! })).rejects.toMatchObject({
        _tag: "ProfileExists"
      })
      expect(await c360.identity.requestLink(user.id, { phone: walkIn.phone! })).toEqual({ status: "sent", expiresInSeconds: 300 })
      expect(sms).toHaveLength(1)
      expect(sms[0]).toMatchObject({ kind: "link-code", to: walkIn.phone })
      const { customer } = await c360.identity.confirmLink(user.id, { phone: walkIn.phone!, code: sms[0]!.code })
      expect(customer).toMatchObject({ id: walkIn.id, userId: user.id })
      expect(await c360.customers.findById(stub.id)).toMatchObject({ status: "merged", mergedInto: walkIn.id })
    } finally {
      await c360.close()
    }
  })

  it("a host's send that rejects changes no answer; without sms nothing is sent and the answer is the same", async () => {
    for (const sender of [{ send: async () => { throw new Error("gateway down") } }, undefined]) {
      const c360 = await createCustomer360({
        database: { sqlite: { filename: ":memory:" } },
        identity: small,
        ...(sender === undefined ? {} : { sms: sender, mailer: sender })
      })
      try {
        const { user } = await c360.identity.register({ email: `${freshWord()}@example.vn`, password: "mật khẩu dài 123" })
        const walkIn = await c360.customers.create({ phone: freshPhone(), name: "Anh Minh" })
        expect(await c360.identity.requestLink(user.id, { phone: walkIn.phone! })).toEqual({ status: "sent", expiresInSeconds: 300 })
      } finally {
        await c360.close()
      }
    }
  })

  it("refuses an sms or mailer option without a send function, and bad identity options, with ValidationError", async () => {
    await expect(createCustomer360({ database: { sqlite: { filename: ":memory:" } }, sms: {} as never })).rejects.toMatchObject({
      _tag: "ValidationError"
    })
    await expect(createCustomer360({ database: { sqlite: { filename: ":memory:" } }, mailer: 1 as never })).rejects.toMatchObject({
      _tag: "ValidationError"
    })
    await expect(
      createCustomer360({ database: { sqlite: { filename: ":memory:" } }, identity: { password: { ln: 40 } } })
    ).rejects.toMatchObject({ _tag: "ValidationError" })
    await expect(
      createCustomer360({ database: { sqlite: { filename: ":memory:" } }, identity: { otp: { sendLimits: [] } } })
    ).rejects.toMatchObject({ _tag: "ValidationError" })
  })
})
