/**
 * The Handlebars templates of roles-templates/: precompiled by the build (so a render loads Handlebars' runtime, not
 * its compiler), compiled from source when the source is not the one the build saw, and the same output either way.
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { precompiledTemplatesModule, templateFor, type PrecompiledTemplates } from '../../../src/render/templates.js';
import { repoRoot } from '../config/helpers.js';

const context = { pagVersion: '9.9.9', ansibleMinVersion: '2.14', ansibleMaxVersion: '2.20', forks: 7 };
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Runs the module text the build writes, as Node's require would, and returns what it exports. */
function evaluate(moduleText: string): PrecompiledTemplates {
  const module = { exports: {} as { templates?: PrecompiledTemplates } };
  vm.runInNewContext(moduleText, { module, exports: module.exports });
  return module.exports.templates as PrecompiledTemplates;
}

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-templates-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

it('a precompiled template renders exactly what the same source compiled renders', async () => {
  const templatesDir = path.join(repoRoot, 'roles-templates');
  const precompiled = evaluate(await precompiledTemplatesModule(templatesDir));
  const names = Object.keys(precompiled).sort();
  expect(names).toEqual(['ansible.cfg.hbs', 'vars/pag_ansible_support.yml.hbs']);
  for (const rel of names) {
    const source = readFileSync(path.join(templatesDir, rel));
    const fromBuild = await templateFor(source, rel, precompiled);
    const fromSource = await templateFor(source, rel, {});
    expect(fromBuild(context)).toBe(fromSource(context));
    expect(fromBuild(context)).toContain('9.9.9');
  }
});

it('uses the precompiled template only for the source the build saw; an edited one is compiled from source', async () => {
  await fs.writeFile(path.join(dir, 'a.txt.hbs'), 'built from {{pagVersion}}\n');
  const precompiled = evaluate(await precompiledTemplatesModule(dir));
  const edited = Buffer.from('edited, {{forks}} forks\n');
  expect(precompiled['a.txt.hbs']?.sourceSha256).not.toBe(sha256(edited));
  expect((await templateFor(edited, 'a.txt.hbs', precompiled))(context)).toBe('edited, 7 forks\n');
  // The same spec under the edited source's hash is taken as it is: the hash, not the text, picks the build's spec.
  const claimed = { 'a.txt.hbs': { ...(precompiled['a.txt.hbs'] as PrecompiledTemplates[string]), sourceSha256: sha256(edited) } };
  expect((await templateFor(edited, 'a.txt.hbs', claimed))(context)).toBe('built from 9.9.9\n');
});

it('a value the context lacks fails the render, precompiled or not', async () => {
  const source = Buffer.from('x = {{noSuchValue}}\n');
  await fs.writeFile(path.join(dir, 'b.hbs'), source);
  const precompiled = evaluate(await precompiledTemplatesModule(dir));
  for (const table of [precompiled, {}]) {
    const template = await templateFor(source, 'b.hbs', table);
    expect(() => template(context)).toThrow(/noSuchValue/);
  }
});

const built = path.join(repoRoot, 'dist/templates/precompiled.cjs');
(existsSync(built) ? it : it.skip)('the build precompiles every template of roles-templates/', () => {
  const precompiled = evaluate(readFileSync(built, 'utf8'));
  const sources = readdirSync(path.join(repoRoot, 'roles-templates'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.hbs'));
  expect(Object.keys(precompiled).sort()).toEqual(sources.map((f) => f.split(path.sep).join('/')).sort());
});
