/**
 * Renders a ClusterConfig into an Ansible tree. Planning is separate from writing so that `--check` and
 * `--diff` see exactly what a real render would do. Ownership is tracked in a manifest: render only
 * overwrites or removes files it wrote itself and that nobody edited since, unless `force` is given.
 */
import { chmodSync, mkdirSync, promises as fs, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterConfig } from '../config/types.js';
import { FileError, OverwriteError } from '../errors.js';
import { sha256 } from '../util/hash.js';
import { packageVersion, templatesDir } from '../util/package-root.js';
import { generatedFiles } from './generated-vars.js';
import { renderTemplates, type TemplateContext } from './templates.js';
import { unifiedDiff } from './unified-diff.js';

export const MANIFEST_NAME = '.pag-ansible-manifest.json';
/** Ansible versions the rendered playbooks are tested with (lower bound inclusive, upper exclusive). */
export const ANSIBLE_MIN_VERSION = '2.14';
export const ANSIBLE_MAX_VERSION = '2.20';

export type ChangeKind = 'create' | 'update' | 'remove' | 'unchanged';

export interface FileChange {
  path: string;
  kind: ChangeKind;
  before?: Buffer;
  after?: Buffer;
  mode?: number;
}

export interface RenderPlan {
  outDir: string;
  changes: FileChange[];
  /** Files render would overwrite although it does not own them (or they were edited). */
  conflicts: { path: string; reason: string }[];
  /** Files render wrote earlier, no longer needs, but leaves because they were edited. */
  kept: string[];
  manifest: Manifest;
}

export interface RenderResult {
  outDir: string;
  written: string[];
  unchanged: string[];
  removed: string[];
  kept: string[];
  overwritten: string[];
}

interface Manifest {
  generator: 'pag-ansible';
  format: 1;
  files: Record<string, string>;
}


// The tree's ~90 small files are read, stat'ed and written synchronously: for files this size that is about twice as
// fast as going through libuv's thread pool, and a render has nothing else to do meanwhile.
function readIfExists(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'EISDIR') throw new FileError(`${file} is a directory where pag-ansible writes a file`, 'Move it away and render again.');
    throw new FileError(`cannot read ${file}: ${(e as Error).message}`);
  }
}

function readManifest(outDir: string): Manifest | undefined {
  const raw = readIfExists(path.join(outDir, MANIFEST_NAME));
  if (!raw) return undefined;
  try {
    const m = JSON.parse(raw.toString('utf8')) as Manifest;
    if (m.generator !== 'pag-ansible' || typeof m.files !== 'object') throw new Error('not a pag-ansible manifest');
    return m;
  } catch (e) {
    throw new FileError(
      `${path.join(outDir, MANIFEST_NAME)} is damaged (${(e as Error).message})`,
      'Delete it and render with --force to take ownership of the directory again.',
    );
  }
}

export function templateContext(config: ClusterConfig): TemplateContext {
  const hosts = new Set([config.server.name, ...config.workers.map((w) => w.name)]).size;
  return {
    pagVersion: packageVersion(),
    ansibleMinVersion: ANSIBLE_MIN_VERSION,
    ansibleMaxVersion: ANSIBLE_MAX_VERSION,
    // One fork per host up to 50: enough parallelism for clusters without exhausting the controller.
    forks: Math.min(50, Math.max(5, hosts)),
  };
}

/** Everything the tree should contain: path → content and mode. */
export async function desiredFiles(config: ClusterConfig, outDir: string): Promise<Map<string, { content: Buffer; mode: number }>> {
  const files = await renderTemplates(templatesDir, templateContext(config));
  for (const [rel, text] of generatedFiles(config, outDir)) {
    if (files.has(rel)) throw new Error(`roles-templates/${rel} collides with a generated file`);
    files.set(rel, { content: Buffer.from(text, 'utf8'), mode: 0o644 });
  }
  return files;
}

function fileMode(file: string): number | undefined {
  try {
    return statSync(file).mode & 0o777;
  } catch {
    return undefined;
  }
}

export async function planRender(config: ClusterConfig, outDir: string): Promise<RenderPlan> {
  const absOut = path.resolve(outDir);
  const stat = await fs.stat(absOut).catch(() => undefined);
  if (stat && !stat.isDirectory()) throw new FileError(`${outDir} exists and is not a directory`, 'Choose another output directory with -o.');
  const previous = stat ? readManifest(absOut) : undefined;
  const owned = previous?.files ?? {};
  const desired = await desiredFiles(config, absOut);

  const changes: FileChange[] = [];
  const conflicts: RenderPlan['conflicts'] = [];
  const kept: string[] = [];
  const files: Record<string, string> = {};

  const entries = [...desired.entries()];
  const onDisk = entries.map(([rel]) => (stat ? readIfExists(path.join(absOut, rel)) : undefined));
  const modes = entries.map(([rel], i) => (onDisk[i] ? fileMode(path.join(absOut, rel)) : undefined));
  entries.forEach(([rel, { content, mode }], i) => {
    files[rel] = sha256(content);
    const before = onDisk[i];
    if (!before) {
      changes.push({ path: rel, kind: 'create', after: content, mode });
      return;
    }
    if (before.equals(content) && modes[i] === mode) {
      changes.push({ path: rel, kind: 'unchanged', mode });
      return;
    }
    if (!before.equals(content)) {
      if (!(rel in owned)) conflicts.push({ path: rel, reason: 'exists and was not written by pag-ansible' });
      else if (owned[rel] !== sha256(before)) conflicts.push({ path: rel, reason: 'was edited after pag-ansible wrote it' });
    }
    changes.push({ path: rel, kind: 'update', before, after: content, mode });
  });

  for (const rel of Object.keys(owned).sort()) {
    if (desired.has(rel)) continue;
    const before = readIfExists(path.join(absOut, rel));
    if (!before) continue;
    if (sha256(before) === owned[rel]) changes.push({ path: rel, kind: 'remove', before });
    else kept.push(rel);
  }

  const manifest: Manifest = {
    generator: 'pag-ansible',
    format: 1,
    files: Object.fromEntries(Object.keys(files).sort().map((k) => [k, files[k] as string])),
  };
  return { outDir: absOut, changes, conflicts, kept, manifest };
}

/** True when applying the plan would change anything on disk. */
export function planChangesTree(plan: RenderPlan): boolean {
  return plan.changes.some((c) => c.kind !== 'unchanged');
}

export function planDiff(plan: RenderPlan): string {
  return plan.changes
    .filter((c) => c.kind !== 'unchanged')
    .map((c) => {
      const before = c.before?.toString('utf8') ?? '';
      const after = c.after?.toString('utf8') ?? '';
      const text = unifiedDiff(before, after, c.kind === 'create' ? '/dev/null' : `a/${c.path}`, c.kind === 'remove' ? '/dev/null' : `b/${c.path}`);
      return text || `mode of ${c.path} changes to ${(c.mode ?? 0).toString(8)}\n`;
    })
    .join('');
}

/** Writes through a temporary file and a rename; the directory must exist. */
function writeAtomic(file: string, content: Buffer, mode: number): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.pag-tmp-${process.pid}`);
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode); // writeFile's mode is filtered by the umask
  renameSync(tmp, file);
}

async function removeEmptyParents(outDir: string, rel: string): Promise<void> {
  let dir = path.dirname(path.join(outDir, rel));
  while (dir.startsWith(outDir + path.sep)) {
    try {
      await fs.rmdir(dir);
    } catch {
      return; // not empty (or gone): stop climbing
    }
    dir = path.dirname(dir);
  }
}

export async function applyRender(plan: RenderPlan, opts: { force?: boolean } = {}): Promise<RenderResult> {
  if (plan.conflicts.length > 0 && !opts.force) {
    const list = plan.conflicts.map((c) => `  ${path.join(plan.outDir, c.path)} ${c.reason}`).join('\n');
    throw new OverwriteError(
      `refusing to overwrite ${plan.conflicts.length} file(s) in ${plan.outDir}:\n${list}`,
      'Move them away, or render with --force to overwrite them.',
    );
  }
  const result: RenderResult = { outDir: plan.outDir, written: [], unchanged: [], removed: [], kept: plan.kept, overwritten: [] };
  try {
    await fs.mkdir(plan.outDir, { recursive: true });
    const writes: FileChange[] = [];
    for (const c of plan.changes) {
      if (c.kind === 'unchanged') result.unchanged.push(c.path);
      else if (c.kind === 'remove') {
        await fs.rm(path.join(plan.outDir, c.path), { force: true });
        await removeEmptyParents(plan.outDir, c.path);
        result.removed.push(c.path);
      } else writes.push(c);
    }
    // Each file is written to a temporary name and renamed. Their directories are made first, once each.
    const dirs = [...new Set(writes.map((c) => path.dirname(path.join(plan.outDir, c.path))))].sort();
    for (const dir of dirs) mkdirSync(dir, { recursive: true });
    // A failed write does not stop the others: the first failure is reported once every other write is done.
    let failure: { error: unknown } | undefined;
    for (const c of writes) {
      try {
        writeAtomic(path.join(plan.outDir, c.path), c.after as Buffer, c.mode ?? 0o644);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
    result.written.push(...writes.map((c) => c.path));
    result.overwritten = plan.conflicts.map((c) => c.path);
    const manifestText = Buffer.from(`${JSON.stringify(plan.manifest, null, 2)}\n`, 'utf8');
    const manifestPath = path.join(plan.outDir, MANIFEST_NAME);
    const oldManifest = readIfExists(manifestPath);
    // Last, once every file it names is in place.
    if (!oldManifest?.equals(manifestText)) writeAtomic(manifestPath, manifestText, 0o644);
  } catch (e) {
    if (e instanceof FileError) throw e;
    throw new FileError(`cannot write to ${plan.outDir}: ${(e as Error).message}`);
  }
  return result;
}

/** Plan and write in one step: what `run`, `ping` and `deploy-flow` use. */
export async function renderTree(config: ClusterConfig, outDir: string, opts: { force?: boolean } = {}): Promise<RenderResult> {
  return applyRender(await planRender(config, outDir), opts);
}
