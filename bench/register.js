'use strict';
/**
 * Runs the benchmarks' TypeScript the way a compiled app runs: each .ts file is transpiled on require
 * (TypeScript's transpileModule, no type check), with nothing else loaded. ts-node's register loads
 * Node's `repl`, which loads `domain`, and once `domain` is loaded every EventEmitter emit in the process
 * goes through its wrapper: a cost of the benchmark, not of the library (the client emits per request).
 *   node -r ./bench/register.js bench/lock.bench.ts
 */
const fs = require('node:fs');
const ts = require('typescript');

const tsconfig = require.resolve('../tsconfig.json');
const { config } = ts.readConfigFile(tsconfig, ts.sys.readFile);
const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, require('node:path').dirname(tsconfig));
const compilerOptions = { ...options, sourceMap: false, inlineSourceMap: true, declaration: false };

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const { outputText } = ts.transpileModule(source, { compilerOptions, fileName: filename });
  module._compile(outputText, filename);
};
