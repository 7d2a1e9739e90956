/**
 * Prints one plain closing line (`vitest: N passed, N failed, N skipped`) and, when PostgreSQL
 * suites were skipped, a loud banner saying how many and which variable turns them on.
 */
import type { Reporter, RunnerTask, RunnerTestFile } from "vitest"

const walk = (tasks: ReadonlyArray<RunnerTask>, visit: (task: RunnerTask) => void) => {
  for (const task of tasks) {
    if (task.type === "test") visit(task)
    else if ("tasks" in task) walk(task.tasks, visit)
  }
}

export default class SummaryReporter implements Reporter {
  onFinished(files: ReadonlyArray<RunnerTestFile> = []) {
    let passed = 0
    let failed = 0
    let skipped = 0
    let pgSkipped = 0
    let pgRan = 0
    for (const file of files) {
      const isPg = /\.pg\.test\.ts$/.test(file.filepath ?? file.name)
      if (file.result?.state === "fail" && file.tasks.length === 0) failed++
      walk(file.tasks, (task) => {
        const state = task.result?.state
        if (state === "pass") {
          passed++
          if (isPg) pgRan++
        } else if (state === "fail") {
          failed++
        } else {
          skipped++
          if (isPg) pgSkipped++
        }
      })
    }
    const lines: Array<string> = []
    if (pgSkipped > 0) {
      const bar = "!".repeat(78)
      lines.push(
        "",
        bar,
        `!!! ${pgSkipped} PostgreSQL test(s) SKIPPED: no server configured.`,
        "!!! Set C360_PG_URL=postgres://user@host:5432/db (any database; each run creates its own)",
        "!!! to run them. CI sets it and fails when the server is unreachable.",
        bar
      )
    } else if (pgRan > 0) {
      lines.push(`PostgreSQL: ${pgRan} test(s) ran against a fresh database.`)
    }
    lines.push(`vitest: ${passed} passed, ${failed} failed, ${skipped} skipped`)
    process.stdout.write(lines.join("\n") + "\n")
  }
}
