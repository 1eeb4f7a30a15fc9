// The build's second half, after tsc has compiled src/ into dist/ (`npm run build`, and bin/build-if-stale.js in a
// checkout, run it so):
//  - each schema's ajv validator, written as code into dist/validators/<kind>.cjs, so the CLI neither loads ajv's
//    compiler nor compiles the schemas on every start (src/config/schema.ts uses the file when it was made from the
//    schema it finds, and compiles the schema itself otherwise);
//  - the Handlebars templates of roles-templates/ precompiled into dist/templates/precompiled.cjs, so a render loads
//    Handlebars' runtime and not its compiler (src/render/templates.ts compiles a template whose source changed);
//  - dist/bundled/: dist/cli/main.js and what it imports (our modules, yaml, commander, …) bundled by esbuild into
//    one entry file plus one chunk per lazily imported part (each command, execa, …), which Node loads far faster
//    than hundreds of small files. bin/pag-ansible.js starts it when present and dist/cli/main.js otherwise.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');

const { standaloneValidatorModule, validatorModulePath } = await import(pathToFileURL(path.join(dist, 'config', 'schema.js')).href);
const { build } = await import('esbuild');
for (const kind of ['inventory', 'secrets']) {
  const file = validatorModulePath(kind);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, standaloneValidatorModule(kind));
  // ajv's standalone code requires a few of its runtime helpers (deep equality, string length): inlined here, so
  // loading a validator resolves no package at run time.
  await build({ entryPoints: [file], outfile: file, allowOverwrite: true, bundle: true, format: 'cjs', platform: 'node', target: 'node20', logLevel: 'warning' });
}

const { precompiledTemplatesModule, precompiledTemplatesPath } = await import(pathToFileURL(path.join(dist, 'render', 'templates.js')).href);
const { templatesDir } = await import(pathToFileURL(path.join(dist, 'util', 'package-root.js')).href);
mkdirSync(path.dirname(precompiledTemplatesPath), { recursive: true });
writeFileSync(precompiledTemplatesPath, await precompiledTemplatesModule(templatesDir));

const bundleDir = path.join(dist, 'bundled');
rmSync(bundleDir, { recursive: true, force: true });
await build({
  entryPoints: { main: path.join(dist, 'cli', 'main.js') },
  outdir: bundleDir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // ajv is only required at run time to compile a schema without its precompiled validator (which inlines its helpers).
  external: ['ajv', 'ajv/*'],
  // The CommonJS packages bundled here (yaml, commander, handlebars) call require() for Node's own modules.
  banner: { js: "import { createRequire as __pagCreateRequire } from 'node:module'; const require = __pagCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  legalComments: 'inline',
});
