/**
 * How deeply an input may nest arrays and objects: the one limit the HTTP API (request bodies)
 * and the Promise facade (every argument) check before anything else reads the input. Deeper
 * input is refused up front with a `ValidationError`: no rule accepts it anyway, and formatting
 * the decode error of a value nested thousands of levels deep overflows the stack.
 *
 * @since 0.1.0
 */
import { ValidationError } from "./Errors.js"

/**
 * The deepest nesting accepted: 64 levels of arrays and objects (`[]` and `{}` are one level,
 * `{ "a": [1] }` two; strings, numbers and other scalars add none).
 *
 * @since 0.1.0
 */
export const MAX_NESTING = 64

/**
 * Whether `value` nests arrays or objects more than `max` levels deep (a cycle nests infinitely).
 * Never recurses: an explicit stack, at most `max + 1` entries deep, walks each object once
 * (shared sub-objects are measured once), so no input can overflow the stack. Only own enumerable
 * keys are followed. An object whose walk throws (a hostile getter or proxy) is not judged here:
 * the answer is `false` and the caller's own validation handles it.
 *
 * @since 0.1.0
 */
export const nestsDeeperThan = (value: unknown, max: number = MAX_NESTING): boolean => {
  if (typeof value !== "object" || value === null) return false
  try {
    // height of each object fully walked: its own level plus the deepest of its children
    const height = new Map<object, number>()
    const onPath = new Set<object>()
    const stack: Array<{ readonly node: object; readonly keys: ReadonlyArray<string>; next: number; deepest: number }> = []
    const enter = (node: object): boolean => {
      if (stack.length >= max) return false
      onPath.add(node)
      stack.push({ node, keys: Object.keys(node), next: 0, deepest: 0 })
      return true
    }
    if (!enter(value)) return true
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      if (top.next < top.keys.length) {
        const child: unknown = (top.node as Record<string, unknown>)[top.keys[top.next]!]
        top.next += 1
        if (typeof child !== "object" || child === null) continue
        if (onPath.has(child)) return true
        const known = height.get(child)
        if (known !== undefined) {
          if (stack.length + known > max) return true
          top.deepest = Math.max(top.deepest, known)
          continue
        }
        if (!enter(child)) return true
        continue
      }
      stack.pop()
      onPath.delete(top.node)
      const own = top.deepest + 1
      height.set(top.node, own)
      const parent = stack[stack.length - 1]
      if (parent !== undefined) parent.deepest = Math.max(parent.deepest, own)
    }
    return false
  } catch {
    return false
  }
}

/**
 * The `ValidationError` for input nested deeper than {@link MAX_NESTING} (`what` names it, e.g.
 * "the request body").
 *
 * @since 0.1.0
 */
export const tooDeep = (what: string): ValidationError =>
  ValidationError.single("", `${what} nests arrays or objects more than ${MAX_NESTING} levels deep`)
