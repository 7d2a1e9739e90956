/**
 * VietQR payloads (DOMAIN §5): the CRC against its check value and against payloads from banks' apps
 * and payment gateways, round trips through `parseVietQr`, every validation error, the cleaning of the
 * content, and a differential test against the `vietnam-qr-pay` package on random inputs.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Either from "effect/Either"
import * as fc from "fast-check"
import { QRPay } from "vietnam-qr-pay"
import { cleanContent, crc16, parseVietQr, vietQr, type VietQrField, type VietQrInput } from "../src/transfers/VietQr.js"

const RUNS = { numRuns: 500 } as const

const payload = (input: VietQrInput): string => Either.getOrThrow(vietQr(input))
const errorOf = (e: Either.Either<unknown, { readonly field: VietQrField; readonly _tag: string }>) =>
  Either.isLeft(e) ? { tag: e.left._tag, field: e.left.field } : "no error"
/** A payload body closed with a CRC that matches, so that only its structure is wrong. */
const sealed = (body: string): string => body + "6304" + crc16(body + "6304")

// --- generators ------------------------------------------------------------------------------------

const digits = (min: number, max: number) =>
  fc.array(fc.constantFrom(..."0123456789"), { minLength: min, maxLength: max }).map((cs) => cs.join(""))
const arbBin = fc.oneof(fc.constantFrom("970436", "970422", "970407", "970415", "970418", "970416", "970405", "971025"), digits(6, 6))
const arbAccount = fc.oneof(
  digits(1, 19),
  fc.array(fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"), { minLength: 1, maxLength: 19 }).map((cs) => cs.join(""))
)
const arbAmount = fc.option(fc.oneof(fc.integer({ min: 1, max: 10_000_000 }), fc.integer({ min: 1, max: 9_999_999_999_999 })), { nil: undefined })
/** Content as payers type it: Vietnamese letters with diacritics, digits, punctuation, runs of spaces. */
const arbRawContent = fc.array(
  fc.constantFrom(..."aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯÁÀẢÃẠẮẰẤẦÉÈẾỀÍÌÓÒỐỒỚỜÚÙỨỪÝỲáàảãạếềốồớờứừ0123456789 .,-#/:"),
  { maxLength: 30 }
).map((cs) => cs.join(""))
const arbInput: fc.Arbitrary<VietQrInput> = fc.record({ bankBin: arbBin, accountNumber: arbAccount, amount: arbAmount, content: arbRawContent })
  .filter((i) => cleanContent(i.content).length <= 25 && (cleanContent(i.content).length > 0 || i.content.trim() === ""))

// --- CRC ---------------------------------------------------------------------------------------------------

describe("VietQr.crc16", () => {
  it("is CRC-16/CCITT-FALSE: the check value of \"123456789\" is 29B1", () => {
    expect(crc16("123456789")).toBe("29B1")
    expect(crc16("")).toBe("FFFF")
    expect(crc16("A")).toBe("B915")
  })

  /** Payloads from banks' apps and a gateway, and the two of vietnam-qr-pay's README: the last 4 characters are their CRC. */
  const REAL = [
    "00020101021138540010A00000072701240006970422011009119673630208QRIBFTTA53037045802VN63046ad9",
    "00020101021138570010A00000072701270006970405011322082054793800208QRIBFTTA53037045802VN630497A6",
    "00020101021238570010A000000727012700069704220113VQRQABRLS04480208QRIBFTTA5303704540420005802VN6224082018f8746b181045f0a2ce63040FC0",
    "00020101021138620010A000000727013200069710250118PSP1234567890000000208QRIBFTTA53037045802VN62190515MOMOW2W123456786304821F",
    "00020101021138530010A0000007270123000697041601092576788590208QRIBFTTA53037045802VN6304AE9F",
    "00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA53037045405100005802VN62150811Chuyen tien630453E6"
  ]
  for (const p of REAL) {
    it(`matches the CRC of ${p.slice(0, 40)}…`, () => {
      expect(crc16(p.slice(0, -4))).toBe(p.slice(-4).toUpperCase())
      expect(Either.isRight(parseVietQr(p))).toBe(true)
    })
  }

  it("reads real payloads back: bank, account, amount, content", () => {
    expect(parseVietQr(REAL[0]!)).toEqual(Either.right({ bankBin: "970422", accountNumber: "0911967363", content: "" }))
    expect(parseVietQr(REAL[2]!)).toEqual(Either.right({
      bankBin: "970422",
      accountNumber: "VQRQABRLS0448",
      amount: 2000,
      content: "18f8746b181045f0a2ce"
    }))
    expect(parseVietQr(REAL[3]!)).toEqual(Either.right({ bankBin: "971025", accountNumber: "PSP123456789000000", content: "" }))
  })
})

// --- building ---------------------------------------------------------------------------------------------

describe("VietQr.vietQr", () => {
  it("writes the layout of NAPAS's VietQR: static without an amount, dynamic with one", () => {
    expect(payload({ bankBin: "970416", accountNumber: "257678859", content: "" }))
      .toBe("00020101021138530010A0000007270123000697041601092576788590208QRIBFTTA53037045802VN6304AE9F")
    expect(payload({ bankBin: "970416", accountNumber: "257678859", amount: 10000, content: "Chuyển tiền" }))
      .toBe("00020101021238530010A0000007270123000697041601092576788590208QRIBFTTA53037045405100005802VN62150811Chuyen tien630453E6")
    const p = payload({ bankBin: "970436", accountNumber: "1903512345678", content: "N2ABCDEFGH" })
    expect(p).toBe(
      "000201010211" +
        "38570010A000000727" + "0127" + "0006970436" + "01131903512345678" + "0208QRIBFTTA" +
        "5303704" + "5802VN" + "62140810N2ABCDEFGH" + "6304" + crc16(p.slice(0, -4))
    )
  })

  it("round-trips: parseVietQr(vietQr(x)) gives back the inputs, content cleaned", () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        const expected = {
          bankBin: input.bankBin,
          accountNumber: input.accountNumber,
          ...(input.amount === undefined ? {} : { amount: input.amount }),
          content: cleanContent(input.content)
        }
        expect(parseVietQr(payload(input))).toEqual(Either.right(expected))
      }),
      RUNS
    )
  })

  it("cleans the content: no diacritics (Đ → D), only ASCII letters, digits and single spaces, trimmed", () => {
    expect(cleanContent("Thanh toán đơn #12")).toBe("Thanh toan don 12")
    expect(cleanContent("  ĐẶNG   Thị  Ánh  ")).toBe("DANG Thi Anh")
    expect(cleanContent("Nạp ví-N2ABCDEFGH")).toBe("Nap viN2ABCDEFGH")
    expect(cleanContent("Cà phê sữa đá\t50k")).toBe("Ca phe sua da 50k")
    expect(cleanContent("")).toBe("")
    fc.assert(
      fc.property(arbRawContent, (raw) => {
        const clean = cleanContent(raw)
        expect(/^(?:[A-Za-z0-9]+(?: [A-Za-z0-9]+)*)?$/.test(clean)).toBe(true)
        expect(cleanContent(clean)).toBe(clean)
      }),
      RUNS
    )
  })

  it("puts the cleaned content in tag 62.08", () => {
    const p = payload({ bankBin: "970422", accountNumber: "0911967363", content: "Đơn hàng số 7" })
    expect(p).toContain("62170813Don hang so 7")
  })

  describe("refuses an input field by field", () => {
    const ok: VietQrInput = { bankBin: "970436", accountNumber: "1903512345678", amount: 50_000, content: "N2ABCDEFGH" }
    const cases: ReadonlyArray<readonly [string, Partial<Record<keyof VietQrInput, unknown>>, VietQrField]> = [
      ["a BIN of 5 digits", { bankBin: "97043" }, "bankBin"],
      ["a BIN of 7 digits", { bankBin: "9704361" }, "bankBin"],
      ["a BIN with a letter", { bankBin: "97043A" }, "bankBin"],
      ["an empty account", { accountNumber: "" }, "accountNumber"],
      ["an account of 20 characters", { accountNumber: "12345678901234567890" }, "accountNumber"],
      ["an account with a dash", { accountNumber: "1903-5123" }, "accountNumber"],
      ["an account with a Vietnamese letter", { accountNumber: "SỐ123" }, "accountNumber"],
      ["a zero amount", { amount: 0 }, "amount"],
      ["a negative amount", { amount: -1000 }, "amount"],
      ["a fractional amount", { amount: 1500.5 }, "amount"],
      ["NaN", { amount: Number.NaN }, "amount"],
      ["an amount of 14 digits", { amount: 10_000_000_000_000 }, "amount"],
      ["an unsafe amount", { amount: 2 ** 53 }, "amount"],
      ["a content of 27 characters once cleaned", { content: "Thanh toán đơn hàng số 1234" }, "content"],
      ["a content that cleans to nothing", { content: "!!! ???" }, "content"],
      ["a content that is not a string", { content: 42 }, "content"]
    ]
    for (const [title, change, field] of cases) {
      it(`${title} → InvalidVietQr on ${field}`, () => {
        const result = vietQr({ ...ok, ...change } as VietQrInput)
        expect(errorOf(result)).toEqual({ tag: "InvalidVietQr", field })
        if (Either.isLeft(result)) expect(result.left.message.length).toBeGreaterThan(10)
      })
    }

    it("accepts 25 characters exactly, and a blank content as none", () => {
      expect(Either.isRight(vietQr({ ...ok, content: "Thanh toán đơn hàng số 12" }))).toBe(true)
      expect(payload({ ...ok, content: "   " })).toBe(payload({ ...ok, content: "" }))
      expect(payload({ ...ok, content: "" })).not.toContain("6208")
    })
  })
})

// --- parsing ------------------------------------------------------------------------------------------------

describe("VietQr.parseVietQr", () => {
  const body = "00020101021238570010A0000007270127000697043601131903512345678" + "0208QRIBFTTA" + "5303704540550000" + "5802VN"

  it("refuses a payload whose CRC does not match, or that has none", () => {
    const p = sealed(body)
    expect(errorOf(parseVietQr(p))).toBe("no error")
    const flipped = p.slice(0, 40) + (p[40] === "1" ? "2" : "1") + p.slice(41)
    expect(errorOf(parseVietQr(flipped))).toEqual({ tag: "InvalidVietQr", field: "payload" })
    expect(errorOf(parseVietQr(p.slice(0, -1)))).toEqual({ tag: "InvalidVietQr", field: "payload" })
    expect(errorOf(parseVietQr(body))).toEqual({ tag: "InvalidVietQr", field: "payload" })
    expect(errorOf(parseVietQr(""))).toEqual({ tag: "InvalidVietQr", field: "payload" })
  })

  it("detects any single changed character", () => {
    const p = payload({ bankBin: "970436", accountNumber: "1903512345678", amount: 120_000, content: "N2K7M3P9QX" })
    fc.assert(
      fc.property(fc.integer({ min: 0, max: p.length - 5 }), fc.constantFrom(..."0123456789ABCDEFXYZ "), (i, c) => {
        fc.pre(p[i] !== c)
        expect(Either.isLeft(parseVietQr(p.slice(0, i) + c + p.slice(i + 1)))).toBe(true)
      }),
      RUNS
    )
  })

  const structural: ReadonlyArray<readonly [string, string, VietQrField]> = [
    ["a field longer than the payload", "000201010212389", "payload"],
    ["a tag written twice", body + "5802VN", "payload"],
    ["another payload format", body.replace("000201", "000202"), "payload"],
    ["another initiation method", body.replace("010212", "010213"), "payload"],
    ["no VietQR account", "000201010211" + "5303704" + "5802VN", "payload"],
    ["another provider", body.replace("A000000727", "A000000775"), "payload"],
    ["a transfer to a card", body.replace("QRIBFTTA", "QRIBFTTC"), "payload"],
    ["another currency", body.replace("5303704", "5303840"), "payload"],
    ["another country", body.replace("5802VN", "5802SG"), "payload"],
    ["a BIN of 5 digits", body.replace("38570010A0000007270127000697043601131903512345678", "38560010A0000007270126000597043" + "01131903512345678"), "bankBin"],
    ["an amount with decimals", body.replace("540550000", "540750000.5"), "amount"],
    ["a zero amount", body.replace("540550000", "54010"), "amount"]
  ]
  for (const [title, b, field] of structural) {
    it(`refuses ${title} → ${field}`, () => {
      expect(errorOf(parseVietQr(sealed(b)))).toEqual({ tag: "InvalidVietQr", field })
    })
  }

  it("ignores tags it does not need (62.05 reference, 80–99) and reads a lower-case CRC", () => {
    const p = sealed("00020101021138530010A0000007270123000697041601092576788590208QRIBFTTA53037045802VN62190515MOMOW2W12345678" + "8003046")
    expect(parseVietQr(p)).toEqual(Either.right({ bankBin: "970416", accountNumber: "257678859", content: "" }))
    expect(Either.isRight(parseVietQr(p.slice(0, -4) + p.slice(-4).toLowerCase()))).toBe(true)
  })
})

// --- differential ------------------------------------------------------------------------------------------

describe("VietQr against vietnam-qr-pay", () => {
  const theirs = (input: VietQrInput): string => {
    const content = cleanContent(input.content)
    return QRPay.initVietQR({
      bankBin: input.bankBin,
      bankNumber: input.accountNumber,
      ...(input.amount === undefined ? {} : { amount: String(input.amount) }),
      ...(content === "" ? {} : { purpose: content })
    }).build()
  }

  it("both write the same payload for the same bank, account, amount and content", () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        expect(payload(input)).toBe(theirs(input))
      }),
      RUNS
    )
  })

  it("each reads the other's payloads: same fields, both CRCs verify", () => {
    fc.assert(
      fc.property(arbInput, (input) => {
        const ours = payload(input)
        const read = new QRPay(ours)
        expect(read.isValid).toBe(true)
        expect(read.consumer.bankBin).toBe(input.bankBin)
        expect(read.consumer.bankNumber).toBe(input.accountNumber)
        expect(read.amount).toBe(input.amount === undefined ? undefined : String(input.amount))
        expect(read.additionalData.purpose).toBe(cleanContent(input.content) === "" ? undefined : cleanContent(input.content))
        const back = parseVietQr(theirs(input))
        expect(Either.map(back, (f) => [f.bankBin, f.accountNumber, f.amount, f.content]))
          .toEqual(Either.right([input.bankBin, input.accountNumber, input.amount, cleanContent(input.content)]))
      }),
      RUNS
    )
  })
})
