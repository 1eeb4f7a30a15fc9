import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyRender, MANIFEST_NAME, planChangesTree, planDiff, planRender, renderTree } from '../../../src/render/index.js';
import { OverwriteError } from '../../../src/errors.js';
import { exampleCluster } from '../../helpers/cluster-fixture.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-render-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string) {
    for (const e of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(r);
      else out.push(r);
    }
  }
  await walk('');
  return out.sort();
}

describe('renderTree', () => {
  it('writes the generated files and a manifest of everything it wrote', async () => {
    const res = await renderTree(exampleCluster(), dir);
    const files = await listFiles(dir);
    expect(files).toEqual(expect.arrayContaining(["inventory.yml", "group_vars/all/pag_ansible.yml", MANIFEST_NAME]));
    expect(files.filter((f) => f.startsWith("host_vars/"))).toEqual([]); // worker data lives in inventory.yml
    const manifest = JSON.parse(await fs.readFile(path.join(dir, MANIFEST_NAME), 'utf8'));
    expect(Object.keys(manifest.files).sort()).toEqual(files.filter((f) => f !== MANIFEST_NAME));
    expect(res.written.length).toBe(files.length - 1);
  });

  it('is deterministic and leaves identical files untouched', async () => {
    await renderTree(exampleCluster(), dir);
    const before = await Promise.all((await listFiles(dir)).map(async (f) => [f, (await fs.stat(path.join(dir, f))).mtimeMs, await fs.readFile(path.join(dir, f), 'utf8')] as const));
    await new Promise((r) => setTimeout(r, 20));
    const res = await renderTree(exampleCluster(), dir);
    expect(res.written).toEqual([]);
    const after = await Promise.all(before.map(async ([f]) => [f, (await fs.stat(path.join(dir, f))).mtimeMs, await fs.readFile(path.join(dir, f), 'utf8')] as const));
    expect(after).toEqual(before);
  });

  it('refuses to overwrite a file it did not write, and writes nothing', async () => {
    await fs.writeFile(path.join(dir, 'inventory.yml'), 'mine\n');
    await expect(renderTree(exampleCluster(), dir)).rejects.toThrow(OverwriteError);
    expect(await fs.readFile(path.join(dir, 'inventory.yml'), 'utf8')).toBe('mine\n');
    expect(await listFiles(dir)).toEqual(['inventory.yml']);
  });

  it('refuses to overwrite a file edited after it was rendered, unless forced', async () => {
    await renderTree(exampleCluster(), dir);
    const file = path.join(dir, 'group_vars/all/pag_ansible.yml');
    await fs.appendFile(file, '# my note\n');
    const changed = exampleCluster({ prefect_version: '3.4.12' });
    await expect(renderTree(changed, dir)).rejects.toThrow(/edited after pag-ansible wrote it/);
    expect(await fs.readFile(file, 'utf8')).toContain('# my note');
    const res = await renderTree(changed, dir, { force: true });
    expect(res.overwritten).toEqual(['group_vars/all/pag_ansible.yml']);
    expect(await fs.readFile(file, 'utf8')).toContain('"3.4.12"');
  });

  it('updates files it owns without complaint', async () => {
    await renderTree(exampleCluster(), dir);
    const res = await renderTree(exampleCluster({ prefect_version: '3.4.12' }), dir);
    expect(res.written).toEqual(['group_vars/all/pag_ansible.yml']);
  });

  it('removes files it no longer generates, but keeps edited ones', async () => {
    // As if an older pag-ansible had generated roles/obsolete/tasks/main.yml.
    await renderTree(exampleCluster(), dir);
    const obsolete = 'roles/obsolete/tasks/main.yml';
    const addObsolete = async (content: string, recorded: string) => {
      await fs.mkdir(path.join(dir, 'roles/obsolete/tasks'), { recursive: true });
      await fs.writeFile(path.join(dir, obsolete), content);
      const m = JSON.parse(await fs.readFile(path.join(dir, MANIFEST_NAME), 'utf8'));
      m.files[obsolete] = createHash('sha256').update(recorded).digest('hex');
      await fs.writeFile(path.join(dir, MANIFEST_NAME), JSON.stringify(m));
    };
    await addObsolete('old\n', 'old\n');
    const res = await renderTree(exampleCluster(), dir);
    expect(res.removed).toEqual([obsolete]);
    await expect(fs.stat(path.join(dir, 'roles/obsolete'))).rejects.toThrow(); // empty dirs removed too

    await addObsolete('old\n# my edit\n', 'old\n');
    const res2 = await renderTree(exampleCluster(), dir);
    expect(res2.kept).toEqual([obsolete]);
    expect(await fs.readFile(path.join(dir, obsolete), 'utf8')).toContain('# my edit');
  });

  it('never touches files it does not generate (the flow store, the fact cache)', async () => {
    await fs.mkdir(path.join(dir, 'flows/demo'), { recursive: true });
    await fs.writeFile(path.join(dir, 'flows/demo/flow.yml'), 'x: 1\n');
    await renderTree(exampleCluster(), dir);
    await renderTree(exampleCluster({ prefect_version: '3.4.12' }), dir);
    expect(await fs.readFile(path.join(dir, 'flows/demo/flow.yml'), 'utf8')).toBe('x: 1\n');
  });

  it('plans without writing: check and diff', async () => {
    const plan = await planRender(exampleCluster(), dir);
    expect(planChangesTree(plan)).toBe(true);
    expect(await listFiles(dir)).toEqual([]);
    await applyRender(plan);
    expect(planChangesTree(await planRender(exampleCluster(), dir))).toBe(false);
    const plan2 = await planRender(exampleCluster({ prefect_version: '3.4.12' }), dir);
    const diff = planDiff(plan2);
    expect(diff).toContain('--- a/group_vars/all/pag_ansible.yml');
    expect(diff).toContain('-prefect_version: !unsafe "3.4.11"');
    expect(diff).toContain('+prefect_version: !unsafe "3.4.12"');
  });

  it('rejects an output path that is a file', async () => {
    const file = path.join(dir, 'f');
    await fs.writeFile(file, '');
    await expect(renderTree(exampleCluster(), file)).rejects.toThrow(/not a directory/);
  });
});
