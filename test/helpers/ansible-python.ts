/**
 * The Python interpreter that runs Ansible (read from ansible-inventory's shebang), so tests can call Ansible's own
 * YAML loader directly: `python3` on PATH may be another interpreter without the ansible package.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export function ansiblePython(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    try {
      const first = readFileSync(path.join(dir, 'ansible-inventory'), 'utf8').split('\n')[0] ?? '';
      const match = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(first);
      if (match) return match[1]?.endsWith('/env') && match[2] ? match[2] : (match[1] as string);
    } catch {
      // not in this directory
    }
  }
  return 'python3';
}
