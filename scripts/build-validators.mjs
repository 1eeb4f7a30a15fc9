// Part of the build (after tsc): writes each schema's ajv validator as code into dist/config/validators/<kind>.cjs,
// so the CLI does not load ajv's compiler and compile the schemas on every start (src/config/schema.ts uses the
// file when it was made from the schema it finds, and compiles the schema itself otherwise).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { standaloneValidatorModule, validatorModulePath } = await import(pathToFileURL(path.join(root, 'dist', 'config', 'schema.js')).href);
for (const kind of ['inventory', 'secrets']) {
  const file = validatorModulePath(kind);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, standaloneValidatorModule(kind));
}
