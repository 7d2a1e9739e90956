import tseslint from "typescript-eslint"

/** The house's boundaries (README, "Layout"), as import rules. */
const boundary = (message, regex) => ({
  "no-restricted-imports": ["error", { patterns: [{ regex, message }] }]
})
const MODULE_FOLDERS = ["customers", "notes", "wallets", "tickets", "transfers", "purchases", "fraud", "stats", "timeline"]

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", ".data/**", ".scratch/**"] },
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-explicit-any": "off",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-namespace": "off",
      "@typescript-eslint/consistent-type-imports": ["error", { fixStyle: "inline-type-imports" }],
      "no-console": ["error", { allow: ["warn", "error"] }]
    }
  },
  {
    files: ["examples/**", "bench/**", "scripts/**", "test/support/**"],
    rules: { "no-console": "off" }
  },
  // The kernel imports nothing of the project.
  { files: ["src/kernel/**/*.ts"], rules: boundary("src/kernel imports nothing of the project but itself", "^\\.\\./") },
  // The platform imports only the kernel.
  {
    files: ["src/platform/*.ts"],
    rules: boundary("src/platform imports only src/kernel and itself", "^\\.\\./(?!kernel/)")
  },
  {
    files: ["src/platform/*/*.ts"],
    rules: boundary("src/platform imports only src/kernel and itself", "^\\.\\./\\.\\./(?!kernel/)")
  },
  // A module reaches the platform and the kernel, and another module only through its index.ts;
  // never the registry or what is assembled from it.
  {
    files: MODULE_FOLDERS.map((m) => `src/${m}/*.ts`),
    rules: boundary(
      "a module imports src/kernel, src/platform, itself, and other modules only through their index.ts",
      `^\\.\\./(?!kernel/|platform/|(?:${MODULE_FOLDERS.join("|")})/index\\.js$)`
    )
  },
  // A model (pure rules) imports only the kernel.
  {
    files: ["src/customers/Customer.ts", "src/wallets/Wallet.ts", "src/notes/Note.ts", "src/tickets/Ticket.ts", "src/transfers/Matcher.ts", "src/transfers/VietQr.ts", "src/transfers/Transfer.ts", "src/purchases/Purchase.ts", "src/purchases/Rfm.ts", "src/fraud/Fraud.ts"],
    rules: boundary("a model imports only src/kernel", "^\\.\\.?/(?!kernel/)")
  }
)
