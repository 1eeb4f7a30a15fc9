/**
 * The modules shipped in the rendered tree's library/ are documented as Ansible reads documentation: `ansible-doc`
 * (the real one) parses each module's DOCUMENTATION and RETURN, and every option it documents is one the module's
 * argument_spec takes, and the other way round (top-level options). A description with `: ` or a flow mapping with a
 * comma in it is a YAML error that only ansible-doc shows, so this runs it on every module, and on the shipped filter.
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../config/helpers.js';

const exec = promisify(execFile);
const library = path.join(repoRoot, 'roles-templates', 'library');

interface Doc {
  doc: { module: string; options?: Record<string, unknown> };
  return?: Record<string, unknown> | null;
}

/**
 * The top-level option names each module gives AnsibleModule, read by running the module's main() in the Python that
 * Ansible runs modules with, with AnsibleModule replaced by a stand-in that stops at once with its argument_spec.
 */
async function argumentSpecOptions(modules: string[]): Promise<Record<string, string[]>> {
  const script = [
    'import importlib, json, sys',
    'sys.path.insert(0, sys.argv[1])',
    'class Spec(Exception): pass',
    'def stand_in(*args, **kwargs): raise Spec(sorted(kwargs["argument_spec"]))',
    'out = {}',
    'for name in sys.argv[2:]:',
    '    module = importlib.import_module(name)',
    '    module.AnsibleModule = stand_in',
    '    try: module.main()',
    '    except Spec as spec: out[name] = spec.args[0]',
    'print(json.dumps(out))',
  ].join('\n');
  return JSON.parse((await exec('/usr/bin/python3', ['-c', script, library, ...modules])).stdout) as Record<string, string[]>;
}

it('documents every shipped module so that ansible-doc reads it, with the options the module takes', async () => {
  const modules = (await fs.readdir(library)).filter((f) => f.endsWith('.py')).map((f) => f.slice(0, -3)).sort();
  expect(modules).toEqual(expect.arrayContaining(['pag_files', 'pag_pack_dir', 'pag_postgresql']));
  const { stdout } = await exec('ansible-doc', ['--json', '-M', library, ...modules], {
    env: { ...process.env, ANSIBLE_NOCOLOR: '1' },
    maxBuffer: 16 * 1024 * 1024,
  });
  const docs = JSON.parse(stdout) as Record<string, Doc>;
  const specs = await argumentSpecOptions(modules);
  for (const name of modules) {
    const doc = docs[name];
    expect(`${name}: ${doc?.doc.module}`).toBe(`${name}: ${name}`);
    expect(`${name}: ${Object.keys(doc?.return ?? {}).length > 0}`).toBe(`${name}: true`);
    const documented = Object.keys(doc?.doc.options ?? {}).sort();
    const taken = specs[name] ?? [];
    expect(taken.length).toBeGreaterThan(0);
    expect(`${name}: ${documented.join(' ')}`).toBe(`${name}: ${taken.join(' ')}`);
    expect(nonTextDescriptions(doc?.doc, name)).toEqual([]);
  }
}, 60_000);

/**
 * Descriptions that are not text: a list item with `: ` in it parses as a mapping, which `ansible-doc --json` passes
 * through and the text view cannot show. Paths of the offending descriptions, at the top and in every option.
 */
function nonTextDescriptions(node: unknown, at = 'doc'): string[] {
  if (node === null || typeof node !== 'object') return [];
  const record = node as Record<string, unknown>;
  const own = 'description' in record && ![record.description].flat().every((d) => typeof d === 'string') ? [at] : [];
  const options = (record.options ?? record.suboptions ?? {}) as Record<string, unknown>;
  return [...own, ...Object.entries(options).flatMap(([name, option]) => nonTextDescriptions(option, `${at}.${name}`))];
}

/** Each shipped filter's arguments (a filter has no argument_spec to read them from). */
const FILTER_OPTIONS: Record<string, string> = { pag_worker_unit_problems: '_input hostvars', pag_worker_units: '_input base_port host' };

it('documents every shipped filter so that ansible-doc reads it, with its arguments', async () => {
  const filters = path.join(repoRoot, 'roles-templates', 'filter_plugins');
  const names = (await fs.readdir(filters)).filter((f) => f.endsWith('.py')).map((f) => f.slice(0, -3)).sort();
  expect(names).toEqual(Object.keys(FILTER_OPTIONS).sort());
  const { stdout } = await exec('ansible-doc', ['--json', '-t', 'filter', ...names], {
    env: { ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_FILTER_PLUGINS: filters },
    maxBuffer: 16 * 1024 * 1024,
  });
  const docs = JSON.parse(stdout) as Record<string, { doc: { name: string; options?: Record<string, unknown> } }>;
  for (const name of names) {
    expect(`${name}: ${docs[name]?.doc.name}`).toBe(`${name}: ${name}`);
    expect(`${name}: ${Object.keys(docs[name]?.doc.options ?? {}).sort().join(' ')}`).toBe(`${name}: ${FILTER_OPTIONS[name]}`);
    expect(nonTextDescriptions(docs[name]?.doc, name)).toEqual([]);
  }
}, 60_000);
