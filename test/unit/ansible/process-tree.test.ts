import { spawn } from 'node:child_process';
import { descendants } from '../../../src/ansible/process-tree.js';

it('lists children and grandchildren', async () => {
  // sh → sleep: the sh is our child, the sleep its child.
  const sh = spawn('sh', ['-c', 'sleep 30 & wait'], { stdio: 'ignore' });
  try {
    let under: number[] = [];
    for (let i = 0; i < 80 && under.length < 1; i++) {
      await new Promise((r) => setTimeout(r, 25));
      under = descendants(sh.pid!);
    }
    const tree = descendants(process.pid);
    expect(tree).toContain(sh.pid);
    expect(tree).toContain(under[0]);
    // Parents before children.
    expect(tree.indexOf(sh.pid!)).toBeLessThan(tree.indexOf(under[0]!));
    expect(under).toHaveLength(1);
    expect(descendants(999_999_999)).toEqual([]);
    process.kill(under[0]!, 'SIGTERM');
  } finally {
    sh.kill('SIGKILL');
  }
});
