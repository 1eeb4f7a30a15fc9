#!/usr/bin/env node
/**
 * pag-ansible's own fuzz suite (issue #15): hostile and odd values in every place a user types something, checked
 * end to end against Ansible itself.
 *
 *   npm run fuzz                          # full run: 2,000 cases, seed 1
 *   npm run fuzz -- --seed 7 --cases 300  # the CI sample (npm run fuzz:ci)
 *
 * Places: every scalar leaf and user-chosen key (host, pool, variable, env names) of inventory.example.yml, of its
 * commented variants (wheelhouse, prefix, external PostgreSQL) and of the secrets file. Payloads: Jinja2 (one would
 * create a canary file if evaluated), YAML structure characters, YAML 1.1 type traps, tags and anchors, 10,000
 * characters, line separators, controls, bidi marks, shell and systemd specifiers, the vault prefix, seeded random
 * strings; each pasted raw and double-quoted.
 *
 * Oracle (Ansible's own InventoryManager/VariableManager/Templar in one Python process per batch, plus one real
 * ansible-playbook run per batch):
 *   accepted: hosts, groups and every ansible_* variable read from the input equal those read from the generated
 *             tree, with types; the fuzzed value reaches its place in the generated tree as Ansible read it; every
 *             generated string is unsafe; templating each variable through query('ansible.builtin.vars', …) returns
 *             it unchanged; the canary file never appears;
 *   refused:  exit 1 or 2 with file:line:col (or a whole-file message naming the file), never a crash; a sample of
 *             refusals is run through the real CLI (exit code, no stack trace).
 * Prints every failing case's place and payload; exits 1 when there are findings.
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { parseDocument, isMap, isSeq, isScalar, isPair } from 'yaml';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '1' },
    cases: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '100' },
    keep: { type: 'boolean', default: false },
  },
});
const SEED = Number(args.seed);
const CASES = Number(args.cases);
const BATCH = Number(args.batch);

const { loadCluster } = await import(path.join(root, 'dist/config/index.js'));
const { desiredFiles } = await import(path.join(root, 'dist/render/index.js'));
const { PagError } = await import(path.join(root, 'dist/errors.js'));

// ---------------------------------------------------------------- seeded randomness
function mulberry32(a) {
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = mulberry32(SEED);
const pick = (list) => list[Math.floor(rand() * list.length)];

// ---------------------------------------------------------------- inputs
const work = mkdtempSync(path.join(os.tmpdir(), 'pag-fuzz-'));
const CANARY = path.join(work, 'CANARY-jinja-was-evaluated');
const example = readFileSync(path.join(root, 'inventory.example.yml'), 'utf8');
const secretsExample = readFileSync(path.join(root, 'secrets.example.yml'), 'utf8');
const uncomment = (text, key) => text.replace(new RegExp(`^(\\s*)# (${key}:.*)$`, 'm'), '$1$2');
const drop = (text, line) => text.replace(new RegExp(`^\\s*${line}.*\\n`, 'm'), '');
const noPixi = (t) => drop(drop(drop(t, 'source: pixi-pack'), 'pixi_pack_tarball:'), 'pixi_unpack_binary:');
let postgres = drop(example, 'type: sqlite');
for (const key of ['type: postgresql', 'mode', 'host', 'port', 'name', 'user', 'pool_size', 'max_overflow']) postgres = uncomment(postgres, key.includes(':') ? key.replace(/:.*/, '') : key);
postgres = postgres.replace(/mode: local/, 'mode: external');
const VARIANTS = {
  example,
  wheelhouse: uncomment(uncomment(uncomment(noPixi(example), 'source: wheelhouse'.replace(/:.*/, '')), 'wheelhouse_dir'), 'python'),
  prefix: uncomment(uncomment(noPixi(example), 'source(?=: prefix)'), 'prefix'),
  postgres,
};
// `source` of the first commented block is wheelhouse; make sure the prefix variant got its own.
VARIANTS.prefix = noPixi(example).replace(/^(\s*)# (source: prefix.*)$/m, '$1$2').replace(/^(\s*)# (prefix: .*)$/m, '$1$2');
VARIANTS.wheelhouse = noPixi(example)
  .replace(/^(\s*)# (source: wheelhouse.*)$/m, '$1$2')
  .replace(/^(\s*)# (wheelhouse_dir: .*)$/m, '$1$2')
  .replace(/^(\s*)# (python: .*)$/m, '$1$2');
const SECRETS = { sqlite: secretsExample, postgres: `${secretsExample}prefect_database_password: !unsafe "db-secret"\n` };

/** Every scalar leaf (value places) and user-chosen key (key places) of a YAML text, with its source range. */
function placesOf(text, file) {
  const doc = parseDocument(text, { version: '1.1', customTags: [{ tag: '!unsafe', resolve: (s) => s }] });
  const out = [];
  const walk = (node, p) => {
    if (isMap(node)) {
      for (const pair of node.items) {
        if (!isPair(pair) || !isScalar(pair.key)) continue;
        const key = String(pair.key.value);
        const parent = p[p.length - 1];
        const userKey = parent === 'hosts' || parent === 'prefect_work_pools' || parent === 'env' || key.startsWith('ansible_');
        if (userKey) out.push({ file, path: [...p, key], part: 'key', range: pair.key.range });
        walk(pair.value, [...p, key]);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => walk(item, [...p, i]));
    } else if (isScalar(node) && node.range) {
      out.push({ file, path: p, part: 'value', range: node.range, tagged: node.tag === '!unsafe' });
    }
  };
  walk(doc.contents, []);
  return out;
}

// ---------------------------------------------------------------- payloads
const long = 'a'.repeat(10_000);
const PAYLOADS = [
  '{{ 7 * 7 }}', `{{ lookup('pipe', 'touch ${CANARY}') }}`, `{% set x = lookup('pipe', 'touch ${CANARY}') %}x`, '{% raw %}{{ x }}{% endraw %}',
  '{# comment #}', "{{ lookup('env', 'HOME') }}", '{{', '}}', '{%', '%}',
  ': ', 'a: b', '- x', '#', ' # c', '[a, b]', '{a: b}', '"', "'", '|', '>', '?', '? x', '&', '*', '!', '%', '@', '`', ',', 'a,b',
  '08', '09', '010', '0:3', '1:20', '1.0', '3.10', '12345678901234567890', '0x1F', '0b101', '1e3', '1.5e+3', '1_000', '.inf', '.nan',
  'yes', 'no', 'on', 'off', 'y', 'n', 'true', 'False', '~', 'null', 'NULL', '', '2001-12-14', '2001-12-14 21:59:43.10 -5', '=', '<<',
  '!unsafe x', '!vault x', '!!str 08', '!!int 08', '!!int 8', '!!float 1', '!!python/object/apply:os.system ["id"]', '!!binary aGk=', '&a x', '*a', '!foo x',
  long, '{{ x }}'.repeat(1500), `x${'\u2028'.repeat(100)}`,
  'a\u2028b', 'a\u2029b', 'a\u0085b', 'a\nb', 'a\r\nb', 'a\rb', '\ta', 'a\t',
  'a\u0000b', 'a\u0007b', '\u001b[31mred', 'a\u007fb', 'a\u009bb', 'a\u00a0b',
  '\u202eevil', 'a\u2066b\u2069', '\u200f', '\ufeffbom', '\u200b',
  '$(id)', '`id`', '; rm -rf /', '&& id', '| id', '%n', '%h', '%%', '%i', '${HOME}', '$HOME', '\\', '\\n', '\\x00',
  '$ANSIBLE_VAULT;1.1;AES256', '$ANSIBLE_VAULT;1.1;AES256\n6162636465', '$ANSIBLE_VAULT',
  'pag-server', 'cpu-pool', 'prefect', '/opt/prefect', 'http://x:4200/api', '3.4.11', '0', '1', '-1', '65536',
  '\u00e9\u4e2d\ud83d\ude00', 'CON', '..', '../../etc/passwd', '/', ' a', 'a ', ' ',
];
function randomString() {
  const n = 1 + Math.floor(rand() * 20);
  let s = '';
  for (let i = 0; i < n; i++) {
    const r = rand();
    const cp = r < 0.6 ? 0x20 + Math.floor(rand() * 0x5f) : r < 0.7 ? Math.floor(rand() * 0x20) : r < 0.9 ? 0xa0 + Math.floor(rand() * 0x2000) : 0x10000 + Math.floor(rand() * 0x10000);
    s += String.fromCodePoint(cp);
  }
  return s;
}
const quoted = (s) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

// ---------------------------------------------------------------- cases
const placeSets = [];
for (const [variant, text] of Object.entries(VARIANTS)) {
  const secrets = variant === 'postgres' ? SECRETS.postgres : SECRETS.sqlite;
  placeSets.push({ variant, text, secrets, places: [...placesOf(text, 'inventory'), ...placesOf(secrets, 'secrets')] });
}
function makeCase(index) {
  const set = pick(placeSets);
  const place = pick(set.places);
  const payload = rand() < 0.15 ? randomString() : pick(PAYLOADS);
  const mode = rand() < 0.5 ? 'raw' : 'quoted';
  const written = mode === 'raw' ? payload : quoted(payload);
  // A value written `!unsafe "..."` keeps its tag when fuzzed in quoted form (the tag is part of the place).
  const splice = (text) => text.slice(0, place.range[0]) + (place.tagged && mode === 'quoted' ? written : written) + text.slice(place.range[1]);
  const inventory = place.file === 'inventory' ? splice(set.text) : set.text;
  const secrets = place.file === 'secrets' ? splice(set.secrets) : set.secrets;
  return { index, variant: set.variant, place, payload, mode, inventory, secrets };
}

// ---------------------------------------------------------------- helpers
const ansiblePython = (() => {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    try {
      const first = readFileSync(path.join(dir, 'ansible-inventory'), 'utf8').split('\n')[0];
      const m = /^#!\s*(\S+)/.exec(first);
      if (m) return m[1];
    } catch {}
  }
  return 'python3';
})();
const ENV = { ...process.env, ANSIBLE_INVENTORY_UNPARSED_FAILED: 'true', ANSIBLE_LOCALHOST_WARNING: 'false', ANSIBLE_RETRY_FILES_ENABLED: 'False', ANSIBLE_NOCOLOR: '1', ANSIBLE_DEPRECATION_WARNINGS: 'False' };
function ansibleRead(items) {
  const r = spawnSync(ansiblePython, [path.join(root, 'test/helpers/ansible_read.py')], { input: JSON.stringify(items), encoding: 'utf8', env: ENV, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`ansible_read.py failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}
const show = (s) => {
  const j = JSON.stringify(s);
  return j.length > 120 ? `${j.slice(0, 117)}..."(${s.length} chars)` : j;
};
/** Ansible's typed JSON → what a pool env value becomes in pag-ansible (str(); booleans lower-case). */
const envText = (v) => (typeof v === 'string' ? v : v && 'int' in v ? v.int : v && 'float' in v ? v.float : v && 'bool' in v ? String(v.bool) : v);
const untype = (v) => {
  if (Array.isArray(v)) return v.map(untype);
  if (v && typeof v === 'object') {
    if ('int' in v && Object.keys(v).length === 1) return Number(v.int);
    if ('float' in v && Object.keys(v).length === 1) return Number(v.float);
    if ('bool' in v && Object.keys(v).length === 1) return v.bool;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, untype(x)]));
  }
  return v;
};
const at = (value, p) => p.reduce((v, k) => (v === undefined || v === null ? undefined : v[k]), value);

/** Where a place's value must arrive in the generated tree (a host's variables), and in what form. */
function expectedAt(place, inputValue) {
  const p = place.path;
  if (p[0] !== 'all' || p[1] !== 'vars') return undefined;
  const [k, sub, name, leaf] = p.slice(2);
  const trim = (s) => (typeof s === 'string' && s.length > 1 ? s.replace(/\/+$/, '') : s);
  if (['prefect_version', 'prefect_user'].includes(k)) return { out: [k], want: inputValue };
  if (['prefect_install_dir', 'prefect_home', 'prefect_flows_dir'].includes(k)) return { out: [k], want: trim(inputValue) };
  if (k === 'prefect_api' && sub === 'url') return { out: ['prefect_api_url'], want: inputValue };
  if (k === 'prefect_api' && sub === 'bind_host') return { out: ['prefect_api_bind_host'], want: inputValue };
  if (k === 'prefect_environment' && ['pixi_pack_tarball', 'pixi_unpack_binary', 'wheelhouse_dir'].includes(sub)) {
    // Controller paths stay as the inventory wrote them, normalised (the rendered tree is relocatable; the roles
    // resolve relative ones against the inventory's directory).
    const asWritten = (s) => trim(path.isAbsolute(s) ? path.normalize(s) : path.posix.normalize(s));
    return { out: ['prefect_environment', sub], want: typeof inputValue === 'string' ? asWritten(inputValue) : inputValue };
  }
  if (k === 'prefect_environment' && sub === 'prefix') return { out: ['prefect_environment', 'prefix'], want: trim(inputValue) };
  if (k === 'prefect_environment' && sub === 'python') return { out: ['prefect_environment', 'python'], want: inputValue };
  if (k === 'prefect_database' && ['host', 'name', 'user'].includes(sub)) return { out: ['prefect_database', sub], want: inputValue };
  if (k === 'prefect_work_pools') return { pools: true };
  return undefined;
}

// ---------------------------------------------------------------- run
const findings = [];
const stats = { cases: 0, accepted: 0, refused: 0, cliChecked: 0, playbooks: 0 };
const started = Date.now();
const describe = (c) => `case ${c.index} [${c.variant}] ${c.place.file}:${c.place.path.join('.')} (${c.place.part}) ${c.mode} payload ${show(c.payload)}`;
const finding = (c, what) => findings.push(`${describe(c)}\n    ${what}`);

for (let start = 0; start < CASES; start += BATCH) {
  const batch = [];
  for (let i = start; i < Math.min(CASES, start + BATCH); i++) batch.push(makeCase(i));
  const accepted = [];
  let refusalsSeen = 0;
  for (const c of batch) {
    stats.cases++;
    const dir = path.join(work, `case-${c.index}`);
    mkdirSync(dir, { recursive: true });
    cpSync(path.join(root, 'test/fixtures/config/artifacts'), path.join(dir, 'artifacts'), { recursive: true });
    writeFileSync(path.join(dir, 'inventory.yml'), c.inventory);
    writeFileSync(path.join(dir, 'secrets.yml'), c.secrets);
    c.dir = dir;
    let result;
    try {
      result = await loadCluster({ inventoryPath: 'inventory.yml', secretsPath: 'secrets.yml', cwd: dir, env: {} });
    } catch (e) {
      stats.refused++;
      if (!(e instanceof PagError)) finding(c, `crash: ${e?.stack ?? e}`);
      else if (![1, 2].includes(e.exitCode)) finding(c, `refusal with exit code ${e.exitCode}: ${e.message}`);
      else if (!/(inventory|secrets)\.yml/.test(e.message)) finding(c, `refusal does not name the file: ${e.message}`);
      continue;
    }
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    if (errors.length > 0 || !result.config || !result.secrets) {
      stats.refused++;
      for (const d of errors) if (!(d.line >= 1 && d.col >= 1 && /(inventory|secrets)\.yml$/.test(d.file))) finding(c, `error without file:line:col: ${JSON.stringify(d)}`);
      if (errors.length === 0) finding(c, 'refused without an error diagnostic');
      // A sample of refusals through the real CLI: exit code, position, no stack trace.
      if (refusalsSeen++ % 20 === 0) {
        stats.cliChecked++;
        const r = spawnSync(process.execPath, [path.join(root, 'bin/pag-ansible.js'), 'validate', '-i', 'inventory.yml', '-s', 'secrets.yml'], { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
        const out = `${r.stdout}${r.stderr}`;
        if (![1, 2].includes(r.status)) finding(c, `CLI exit ${r.status}: ${out.slice(0, 300)}`);
        else if (!/(inventory|secrets)\.yml:\d+:\d+/.test(out) && !/(inventory|secrets)\.yml/.test(out)) finding(c, `CLI output names no file:line:col: ${out.slice(0, 300)}`);
        if (/\n\s+at .*:\d+:\d+\)?\n/.test(out) || /internal error/.test(out)) finding(c, `CLI printed a stack trace or internal error: ${out.slice(0, 300)}`);
      }
      continue;
    }
    stats.accepted++;
    try {
      const files = await desiredFiles(result.config);
      for (const rel of ['inventory.yml', 'group_vars/all/pag_ansible.yml']) {
        const file = path.join(dir, 'out', rel);
        mkdirSync(path.dirname(file), { recursive: true });
        writeFileSync(file, files.get(rel).content);
      }
      c.secretsLoaded = result.secrets;
      accepted.push(c);
    } catch (e) {
      finding(c, `accepted but rendering failed: ${e?.stack ?? e}`);
    }
  }

  // One Python process reads every accepted case's input and generated tree the way Ansible does.
  const items = [];
  for (const c of accepted) {
    items.push(path.join(c.dir, 'inventory.yml'));
    items.push({ inventory: path.join(c.dir, 'out/inventory.yml'), template: true });
    items.push({ yaml: path.join(c.dir, c.place.file === 'secrets' ? 'secrets.yml' : 'inventory.yml') });
  }
  const read = items.length ? ansibleRead(items) : [];
  accepted.forEach((c, i) => {
    const [input, output, raw] = read.slice(i * 3, i * 3 + 3);
    if (input.error) return finding(c, `pag-ansible accepted what Ansible cannot read: ${input.error.slice(0, 300)}`);
    if (output.error) return finding(c, `Ansible cannot read the generated tree: ${output.error.slice(0, 300)}`);
    for (const g of ['prefect_server', 'prefect_workers']) {
      if (!isDeepStrictEqual(input.groups[g] ?? [], output.groups[g] ?? [])) finding(c, `group ${g}: input ${show(input.groups[g])} generated ${show(output.groups[g])}`);
    }
    for (const [host, vars] of Object.entries(input.hostvars)) {
      const outVars = output.hostvars[host];
      if (!outVars) continue; // hosts outside the two groups are not deployed (reported by the group check)
      const mine = (v) => Object.fromEntries(Object.entries(v).filter(([k]) => k.startsWith('ansible_') || k === 'prefect_worker_pools'));
      if (!isDeepStrictEqual(mine(vars), mine(outVars))) finding(c, `host ${show(host)} variables differ: input ${show(JSON.stringify(mine(vars)))} generated ${show(JSON.stringify(mine(outVars)))}`);
      const gpuIn = (vars.prefect_worker_gpu_ids ?? []).map(envText);
      if (output.groups.prefect_workers?.includes(host) && !isDeepStrictEqual(gpuIn, outVars.prefect_worker_gpu_ids ?? [])) finding(c, `host ${host} GPU ids: input ${show(gpuIn)} generated ${show(outVars.prefect_worker_gpu_ids)}`);
    }
    if (output.not_unsafe.length) finding(c, `generated strings that are not !unsafe: ${output.not_unsafe.slice(0, 5).join(', ')}`);
    if (output.templated_differs.length) finding(c, `templating changed: ${output.templated_differs.slice(0, 5).join(', ')}`);
    if (c.place.file === 'secrets') {
      const key = c.place.path[0];
      const want = at(raw.data, c.place.path);
      if (c.place.part === 'value' && c.secretsLoaded[key] !== want) finding(c, `secret ${key}: Ansible reads ${show(want)}, pag-ansible ${show(c.secretsLoaded[key])}`);
      return;
    }
    const inputValue = c.place.part === 'key' ? c.place.path.at(-1) : at(raw.data, c.place.path);
    const expected = expectedAt(c.place, inputValue);
    const server = Object.values(output.hostvars)[0] ?? {};
    if (!expected) return;
    if (expected.out) {
      const got = at(server, expected.out);
      if (!isDeepStrictEqual(got, expected.want)) finding(c, `${expected.out.join('.')}: Ansible reads ${show(JSON.stringify(expected.want))} from the input, ${show(JSON.stringify(got))} from the generated tree`);
    } else if (expected.pools) {
      // Pools as Ansible read them from the input: same names, env keys and values (as text) in the generated tree.
      const generated = Object.fromEntries((server.prefect_work_pools ?? []).map((p) => [p.name, p]));
      for (const [name, pool] of Object.entries(raw.data.all.vars.prefect_work_pools ?? {})) {
        const env = Object.fromEntries(Object.entries(pool?.env ?? {}).map(([k, v]) => [k, envText(v)]));
        if (!generated[name]) finding(c, `pool ${show(name)} missing from the generated tree (pools: ${show(JSON.stringify(Object.keys(generated)))})`);
        else if (!isDeepStrictEqual(generated[name].env, env)) finding(c, `pool ${show(name)} env: Ansible reads ${show(JSON.stringify(env))}, generated ${show(JSON.stringify(generated[name].env))}`);
      }
    }
  });

  // One real ansible-playbook run per batch: query('ansible.builtin.vars', …) forces templating of every generated variable.
  const probe = accepted.find((c) => /\{\{|\{%/.test(c.payload)) ?? accepted[0];
  if (probe) {
    stats.playbooks++;
    const names = Object.keys(read[accepted.indexOf(probe) * 3 + 1].hostvars[Object.keys(read[accepted.indexOf(probe) * 3 + 1].hostvars)[0]] ?? {}).filter((k) => !k.startsWith('ansible_'));
    const play = path.join(probe.dir, 'probe.yml');
    const probeDir = path.join(probe.dir, 'probe');
    mkdirSync(probeDir);
    writeFileSync(
      play,
      `- hosts: all\n  gather_facts: false\n  connection: local\n  tasks:\n    - ansible.builtin.copy:\n        content: "{{ query('ansible.builtin.vars', *pag_names) | to_json }}"\n        dest: "{{ pag_probe_dir }}/{{ groups['all'].index(inventory_hostname) }}.json"\n`,
    );
    const extra = { pag_names: names, pag_probe_dir: probeDir, ansible_python_interpreter: ansiblePython, ansible_connection: 'local', ansible_become: false };
    const r = spawnSync('ansible-playbook', ['-i', path.join(probe.dir, 'out/inventory.yml'), play, '-e', JSON.stringify(extra)], {
      encoding: 'utf8',
      env: ENV,
      maxBuffer: 1 << 30,
    });
    if (r.status !== 0) finding(probe, `ansible-playbook probe failed (exit ${r.status}): ${(r.stdout + r.stderr).slice(-400)}`);
    else {
      const output = read[accepted.indexOf(probe) * 3 + 1];
      const all = output.groups.all ?? [];
      for (const [index, host] of all.entries()) {
        const got = JSON.parse(readFileSync(path.join(probeDir, `${index}.json`), 'utf8'));
        const want = names.map((n) => untype(output.hostvars[host][n]));
        if (!isDeepStrictEqual(got, want)) finding(probe, `ansible-playbook templated host ${host}'s variables differently: ${show(JSON.stringify(got))} vs ${show(JSON.stringify(want))}`);
      }
    }
  }
  if (existsSync(CANARY)) {
    findings.push(`batch from case ${start}: the canary file exists: a Jinja2 payload was evaluated`);
    rmSync(CANARY);
  }
  if (!args.keep) for (const c of batch) rmSync(c.dir, { recursive: true, force: true });
  process.stderr.write(`fuzz: ${stats.cases}/${CASES} cases, ${findings.length} findings, ${Math.round((Date.now() - started) / 1000)} s\n`);
}

const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`fuzz seed ${SEED}: ${stats.cases} cases (${stats.accepted} accepted, ${stats.refused} refused; ${stats.cliChecked} refusals through the CLI, ${stats.playbooks} ansible-playbook runs) in ${seconds} s: ${findings.length} findings`);
for (const f of findings) console.log(`FINDING ${f}`);
if (!args.keep) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
process.exitCode = findings.length > 0 ? 1 : 0;
