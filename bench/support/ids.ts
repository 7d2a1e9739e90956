/**
 * Ids in the library's format for the hand-written baselines: `prefix_` + 10 Crockford base-32
 * characters of milliseconds + 16 random ones.
 */
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

export const newId = (prefix: string, millis: number): string => {
  let time = ""
  let t = millis
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32]! + time
    t = Math.floor(t / 32)
  }
  const random = crypto.getRandomValues(new Uint8Array(16))
  let rand = ""
  for (let i = 0; i < 16; i++) rand += CROCKFORD[random[i]! & 31]
  return `${prefix}_${time}${rand}`
}
