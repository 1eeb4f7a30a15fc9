/**
 * pag_postgresql keeps the Prefect role's lines at the start of pg_hba.conf between marker lines, as
 * ansible.builtin.blockinfile (insertbefore: BOF) did before it: the same bytes, so a site that blockinfile set up is
 * unchanged by the module, and a changed block is replaced where it stands. Checked against the real blockinfile
 * (ansible-playbook, connection local) on the same files, then the module's own function (with_block) run by the
 * Python that Ansible runs modules with. Given two minutes, not jest's default 5 s (a busy machine).
 */
import { execFile } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { LOCAL_PLAY_HEAD, pluginPlayDir, runLocalPlaybook } from '../../helpers/local-playbook.js';

const exec = promisify(execFile);

const MARKER = '# {mark} pag-ansible: Prefect database';
const block = (db: string) =>
  `host    "${db}"    "prefect"    127.0.0.1/32    scram-sha-256\nhost    "${db}"    "prefect"    ::1/128         scram-sha-256\n`;
const DEBIAN = '# Database administrative login by Unix domain socket\nlocal   all             postgres                                peer\n';
const marked = (db: string) => `# BEGIN pag-ansible: Prefect database\n${block(db)}# END pag-ansible: Prefect database\n`;

// Each case: the file as it is, and the block written into it.
const CASES: Record<string, { before: string; db: string }> = {
  'a fresh Debian file': { before: DEBIAN, db: 'prefect' },
  'the block already there': { before: marked('prefect') + DEBIAN, db: 'prefect' },
  'an older block, replaced': { before: marked('old') + DEBIAN, db: 'prefect' },
  'a block moved below the admin line, replaced where it stands': { before: DEBIAN + marked('old') + 'host all all 10.0.0.0/8 scram-sha-256\n', db: 'prefect' },
  'no newline at the end': { before: DEBIAN.trimEnd(), db: 'prefect' },
  'an empty file': { before: '', db: 'prefect' },
};

let dir: string;

beforeAll(async () => {
  dir = await pluginPlayDir('pag-hba-', [
    ...LOCAL_PLAY_HEAD,
    '    - name: Write the block as blockinfile does',
    '      ansible.builtin.blockinfile:',
    '        path: "{{ item.path }}"',
    '        insertbefore: BOF',
    `        marker: "${MARKER}"`,
    '        block: "{{ item.block }}"',
    '      loop: "{{ cases }}"',
  ]);
});

afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

it('writes the same bytes as blockinfile, and leaves a file blockinfile wrote unchanged', async () => {
  const cases = Object.entries(CASES).map(([name, c], i) => ({ name, ...c, path: path.join(dir, `ansible-${i}.conf`), module: path.join(dir, `module-${i}.conf`) }));
  for (const c of cases) {
    await fs.writeFile(c.path, c.before);
    await fs.writeFile(c.module, c.before);
  }
  const r = await runLocalPlaybook(dir, { cases: cases.map((c) => ({ path: c.path, block: block(c.db) })) });
  expect(r.code).toBe(0);

  // The module's function on each file as it was, then again on what it wrote (a second run changes nothing).
  const script = [
    'import json, sys',
    `sys.path.insert(0, ${JSON.stringify(path.join(dir, 'library'))})`,
    'from pag_postgresql import with_block',
    'for c in json.loads(sys.argv[1]):',
    '    data = open(c["module"], "rb").read()',
    '    once = with_block(data, c["block"], c["marker"])',
    '    open(c["module"], "wb").write(once)',
    '    print(json.dumps({"name": c["name"], "again": with_block(once, c["block"], c["marker"]) == once}))',
  ].join('\n');
  const arg = JSON.stringify(cases.map((c) => ({ name: c.name, module: c.module, block: block(c.db), marker: MARKER })));
  const out = (await exec('/usr/bin/python3', ['-c', script, arg])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; again: boolean });
  expect(out).toEqual(cases.map((c) => ({ name: c.name, again: true })));

  for (const c of cases) {
    const [byAnsible, byModule] = await Promise.all([fs.readFile(c.path, 'utf8'), fs.readFile(c.module, 'utf8')]);
    expect(`${c.name}\n${byModule}`).toBe(`${c.name}\n${byAnsible}`);
    // Not a test that passes on two files left alone: each now holds the wanted block once.
    expect(byModule.split(marked(c.db)).length - 1).toBe(1);
  }
  // An untouched file stays byte for byte the same.
  expect(await fs.readFile(cases[1]!.module, 'utf8')).toBe(CASES['the block already there']!.before);
}, 120_000);
