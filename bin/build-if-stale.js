// Builds dist/ as `npm run build` does (tsc, then scripts/build-dist.mjs: the validators as code and the bundled
// entry) when dist/ is missing or older than a source file or schema: for runs from a git checkout only
// (bin/pag-ansible.js calls it when src/ exists). Output goes to stderr; a failed build stops the CLI.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) newest = Math.max(newest, statSync(path.join(e.parentPath, e.name)).mtimeMs);
  }
  return newest;
}

export function buildIfStale(rootUrl) {
  const root = fileURLToPath(rootUrl);
  // The bundle is written last, from dist/cli/: a dist/ that tsc alone rebuilt after a change is stale too.
  const built = path.join(root, 'dist', 'bundled', 'main.js');
  const sources = Math.max(
    newestMtime(path.join(root, 'src')),
    newestMtime(path.join(root, 'schemas')),
    ...['tsconfig.json', 'tsconfig.build.json'].map((f) => statSync(path.join(root, f)).mtimeMs),
  );
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) {
    process.stderr.write('pag-ansible: this checkout is not built and TypeScript is not installed: run `npm install` first.\n');
    process.exit(2);
  }
  process.stderr.write(`pag-ansible: building the CLI from ${path.join(root, 'src')} (first run, or the sources changed)…\n`);
  rmSync(path.join(root, 'dist'), { recursive: true, force: true });
  try {
    execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], { cwd: root, stdio: ['ignore', 2, 2] });
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build-dist.mjs')], { cwd: root, stdio: ['ignore', 2, 2] });
  } catch {
    process.stderr.write('pag-ansible: the build failed (see above).\n');
    process.exit(2);
  }
}
