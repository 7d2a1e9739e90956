// Completes package-lock.json with the platform-specific optional packages (esbuild, rollup,
// native addons) that the registry mirror used to resolve it did not list, so that `npm ci`
// validates the lockfile on any machine. Each added entry carries only its version and the
// os/cpu/libc it is for (read from its name); npm skips such an entry on other platforms and
// fetches it normally on its own platform.
import { readFileSync, writeFileSync } from "node:fs"

const lock = JSON.parse(readFileSync("package-lock.json", "utf8"))
const packages = lock.packages
const OS = ["android", "darwin", "freebsd", "linux", "netbsd", "openbsd", "sunos", "win32", "aix", "openharmony", "cygwin"]
const CPU = { x64: "x64", ia32: "ia32", arm64: "arm64", arm: "arm", loong64: "loong64", mips64el: "mips64el", ppc64: "ppc64", riscv64: "riscv64", s390x: "s390x", loongarch64: "loong64", wasm32: "wasm32" }

const platformOf = (name) => {
  const base = name.split("/").pop()
  const parts = base.split("-")
  const os = parts.find((p) => OS.includes(p)) ?? (parts.includes("openharmony") ? "openharmony" : undefined)
  const cpuPart = parts.find((p) => p in CPU)
  const entry = {}
  if (os) entry.os = [os]
  if (cpuPart) entry.cpu = [CPU[cpuPart]]
  if (os === "linux") {
    if (parts.some((p) => p.startsWith("musl"))) entry.libc = ["musl"]
    else if (parts.some((p) => p.startsWith("gnu"))) entry.libc = ["glibc"]
  }
  return entry
}

let added = 0
for (const [path, pkg] of Object.entries(packages)) {
  for (const [dep, version] of Object.entries(pkg.optionalDependencies ?? {})) {
    const dir = path === "" ? "" : `${path}/`
    const candidates = [`${dir}node_modules/${dep}`, `node_modules/${dep}`]
    if (candidates.some((c) => packages[c])) continue
    const platform = platformOf(dep)
    if (!platform.os && !platform.cpu) continue // not a platform package: leave it to npm
    packages[`node_modules/${dep}`] = {
      version: version.replace(/^[\^~=]/, ""),
      ...(pkg.dev ? { dev: true } : {}),
      optional: true,
      ...platform
    }
    added++
  }
}
lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)))
writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n")
console.log(`lockfile: added ${added} platform-specific optional package entr${added === 1 ? "y" : "ies"}`)
