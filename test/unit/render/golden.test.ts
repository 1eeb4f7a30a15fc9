/**
 * Golden files for the bundled example: the files render generates or templates for inventory.example.yml,
 * byte for byte, plus the list of every path in the tree. Role files are copied verbatim from roles-templates/
 * and checked by lint instead. After an intended change: UPDATE_GOLDEN=1 npm test -- test/unit/render/golden
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadClusterOrThrow } from '../../../src/config/index.js';
import { MANIFEST_NAME, renderTree } from '../../../src/render/index.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const goldenDir = path.join(root, 'test/fixtures/golden/example');
/** Generated or templated files, compared in full. */
const GENERATED = ['inventory.yml', 'group_vars/all/pag_ansible.yml', 'ansible.cfg', 'vars/pag_ansible_support.yml'];

it('renders inventory.example.yml to the golden tree', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-golden-'));
  try {
    await fs.copyFile(path.join(root, 'inventory.example.yml'), path.join(dir, 'inventory.yml'));
    const { config } = await loadClusterOrThrow({ inventoryPath: path.join(dir, 'inventory.yml') });
    await renderTree(config, path.join(dir, 'out'));
    const manifest = JSON.parse(await fs.readFile(path.join(dir, 'out', MANIFEST_NAME), 'utf8')) as { files: Record<string, string> };
    const actual: Record<string, string> = { 'paths.txt': `${Object.keys(manifest.files).join('\n')}\n` };
    for (const rel of GENERATED) {
      actual[rel] = await fs.readFile(path.join(dir, 'out', rel), 'utf8');
      expect(actual[rel]).not.toContain(dir); // relocatable: nothing names the checkout
    }
    for (const [rel, text] of Object.entries(actual)) {
      const golden = path.join(goldenDir, rel);
      if (process.env.UPDATE_GOLDEN === '1') {
        await fs.mkdir(path.dirname(golden), { recursive: true });
        await fs.writeFile(golden, text);
      }
      expect(`${rel}:\n${text}`).toBe(`${rel}:\n${await fs.readFile(golden, 'utf8')}`);
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
