/**
 * The build writes each schema's validator as code (ajv standalone); the CLI uses it instead of compiling the
 * schema. Both must report the same errors, down to the schema objects the messages are built from.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { AJV_OPTIONS, plainData, standaloneValidatorModule, type SchemaKind } from '../../../src/config/schema.js';
import { parseYamlSource } from '../../../src/config/yaml-source.js';
import { fixturesDir, repoRoot } from './helpers.js';

const requireFromRoot = createRequire(path.join(repoRoot, 'package.json'));

function loadModule(code: string): ValidateFunction & { validate: ValidateFunction; schemaText: string } {
  const module = { exports: {} as never };
  new Function('module', 'exports', 'require', code)(module, module.exports, requireFromRoot);
  return module.exports;
}

const kinds: SchemaKind[] = ['inventory', 'secrets'];
const fixtures = readdirSync(fixturesDir).filter((f) => f.endsWith('.yml'));
const extra: unknown[] = [null, 5, 'text', [], {}, { all: 5 }, { all: { vars: [] } }, { all: { hosts: { 'bad host': null }, children: { x: [] } } }];

describe.each(kinds)('the precompiled %s validator', (kind) => {
  const schemaText = readFileSync(path.join(repoRoot, 'schemas', `${kind}.schema.json`), 'utf8');
  const compiled = new Ajv({ ...AJV_OPTIONS }).compile(JSON.parse(schemaText) as object);
  const mod = loadModule(standaloneValidatorModule(kind));

  test('records the schema it was made from', () => {
    expect(mod.schemaText).toBe(schemaText);
    expect(mod.validate).toBe(mod);
  });

  test('reports what the compiled schema reports, for every fixture and a few odd documents', async () => {
    const sources = await Promise.all(fixtures.map((f) => parseYamlSource(readFileSync(path.join(fixturesDir, f), 'utf8'), f)));
    const documents = [
      ...sources.map((s) => s.data).filter((d) => d !== undefined),
      ...extra,
    ].map(plainData);
    expect(documents.length).toBeGreaterThan(30);
    let invalid = 0;
    for (const data of documents) {
      const expected = compiled(data);
      expect(mod.validate(data)).toBe(expected);
      expect(mod.validate.errors ?? null).toEqual(compiled.errors ?? null);
      if (!expected) invalid++;
    }
    expect(invalid).toBeGreaterThan(10);
  });
});
