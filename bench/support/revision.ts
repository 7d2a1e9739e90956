/**
 * Which sources the measured library was built from: the commit, and whether `src/` had uncommitted
 * changes then (`npm run bench` builds the working tree). Printed with a benchmark's summary, so
 * that a figure can be matched with the code it measured.
 */
import { execFileSync } from "node:child_process"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..")

export const librarySource = (): string => {
  try {
    const git = (...args: Array<string>) => execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
    const commit = git("rev-parse", "--short", "HEAD")
    const changed = git("status", "--porcelain", "--", "src").split("\n").filter((l) => l !== "").length
    return `commit ${commit}${changed === 0 ? "" : ` + uncommitted changes in ${changed} file(s) of src/`}`
  } catch {
    return "unknown revision (no git)"
  }
}
