/**
 * Benchmark entry: `npm run bench -- NAME` runs `bench/NAME.ts` (its `run` export, or its default
 * export). Without a name, or with an unknown one, prints the available names and exits 1.
 */
import { readdirSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const dir = dirname(fileURLToPath(import.meta.url))

const available = (): Array<string> =>
  readdirSync(dir)
    .filter((f) => f.endsWith(".ts") && f !== "run.ts" && !f.endsWith(".d.ts"))
    .map((f) => f.slice(0, -".ts".length))
    .sort()

type Benchmark = () => Promise<void> | void

const main = async (): Promise<void> => {
  const name = process.argv[2]
  const names = available()
  if (name === undefined || !names.includes(name)) {
    if (name !== undefined) console.error(`unknown benchmark ${JSON.stringify(name)}`)
    console.error(`usage: npm run bench -- NAME\navailable benchmarks: ${names.join(", ")}`)
    process.exitCode = 1
    return
  }
  const mod = (await import(pathToFileURL(join(dir, `${name}.ts`)).href)) as { run?: Benchmark; default?: Benchmark }
  const bench = mod.run ?? mod.default
  if (typeof bench !== "function") {
    console.error(`bench/${name}.ts exports neither run() nor a default function`)
    process.exitCode = 1
    return
  }
  await bench()
}

await main()
