// Compiles rails/evm/testdata/TestUSD.sol with the pinned solc and writes its ABI and
// bytecode to rails/evm/testdata/TestUSD.json, the artifact the tests deploy.
// With --check it writes nothing and exits 1 when the committed artifact differs.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const solc = require("solc");
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const source = join(root, "rails/evm/testdata/TestUSD.sol");
const artifact = join(root, "rails/evm/testdata/TestUSD.json");

const input = {
  language: "Solidity",
  sources: { "TestUSD.sol": { content: readFileSync(source, "utf8") } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: "cancun",
    metadata: { bytecodeHash: "none" },
    outputSelection: { "*": { TestUSD: ["abi", "evm.bytecode.object"] } },
  },
};
const output = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (output.errors || []).filter((e) => e.severity === "error");
if (errors.length > 0) {
  console.error(errors.map((e) => e.formattedMessage).join("\n"));
  process.exit(1);
}
const contract = output.contracts["TestUSD.sol"].TestUSD;
const built = JSON.stringify({ compiler: solc.version(), abi: contract.abi, bytecode: "0x" + contract.evm.bytecode.object }, null, 2) + "\n";
if (process.argv.includes("--check")) {
  if (readFileSync(artifact, "utf8") !== built) {
    console.error(`${artifact} does not match ${source}: run node tools/evm/build-token.mjs`);
    process.exit(1);
  }
  console.log("TestUSD.json matches its source");
} else {
  writeFileSync(artifact, built);
  console.log(`wrote ${artifact}`);
}
