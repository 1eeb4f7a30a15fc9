/**
 * Resolving and downloading `.deb` packages for a TARGET release with apt, using apt's own sources, lists,
 * cache and dpkg status for that release (never this machine's), then writing a flat repository
 * (`dpkg-scanpackages`: Packages + Packages.gz) that apt on the isolated side installs from by name.
 *
 * What the target already has is a *reference status*: what `debootstrap --variant=minbase` installs, i.e. every
 * `Priority: required` package of the release plus apt, resolved by apt itself. Packages a minimal host already
 * has are left out; anything a fuller host lacks is in.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { runTool } from './errors.js';
import type { Mirror, Target } from './targets.js';

export interface AptContext {
  target: Target;
  /** Debian architecture (amd64, arm64). */
  arch: string;
  mirror: Mirror;
  /** Private state for this target and architecture, kept between builds: lists, downloaded .debs. */
  root: string;
  /** Lists older than this are refreshed (ms). */
  maxListAge?: number;
}

export interface DebPackage {
  name: string;
  version: string;
  arch: string;
}

const context = (ctx: AptContext) => `${ctx.target.name} (${ctx.target.codename}, ${ctx.arch})`;

function aptOptions(ctx: AptContext, status: string): string[] {
  const o = (k: string, v: string) => ['-o', `${k}=${v}`];
  return [
    ...o('Dir::Etc::SourceList', path.join(ctx.root, 'sources.list')),
    ...o('Dir::Etc::SourceParts', '/nonexistent'),
    ...o('Dir::Etc::Preferences', '/nonexistent'),
    ...o('Dir::Etc::PreferencesParts', '/nonexistent'),
    ...o('Dir::State', path.join(ctx.root, 'state')),
    ...o('Dir::State::Lists', path.join(ctx.root, 'lists')),
    ...o('Dir::State::status', status),
    ...o('Dir::Cache', path.join(ctx.root, 'cache')),
    ...o('Dir::Cache::archives', path.join(ctx.root, 'archives')),
    ...o('APT::Architecture', ctx.arch),
    ...o('APT::Architectures', ctx.arch),
    ...o('APT::Install-Recommends', 'false'),
    ...o('APT::Install-Suggests', 'false'),
    ...o('APT::Update::Error-Mode', 'any'),
    ...o('Acquire::Languages', 'none'),
    ...o('Acquire::GzipIndexes', 'false'),
    ...o('Debug::NoLocking', 'true'),
  ];
}

export function sourcesList(ctx: AptContext): string {
  const { codename, keyring } = ctx.target;
  const opts = `[arch=${ctx.arch} signed-by=${keyring}]`;
  const lines = [`deb ${opts} ${ctx.mirror.main} ${codename} main`, `deb ${opts} ${ctx.mirror.main} ${codename}-updates main`];
  if (ctx.mirror.security) {
    // Debian: debian-security CODENAME-security; Ubuntu: the archive itself carries CODENAME-security.
    lines.push(`deb ${opts} ${ctx.mirror.security} ${codename}-security main`);
  }
  return `${lines.join('\n')}\n`;
}

async function emptyStatus(ctx: AptContext): Promise<string> {
  const file = path.join(ctx.root, 'empty-status');
  await writeFile(file, '');
  return file;
}

/** Writes the private sources and refreshes the lists when they changed or are older than a day. */
export async function updateLists(ctx: AptContext): Promise<void> {
  for (const d of ['lists/partial', 'archives/partial', 'cache', 'state']) await mkdir(path.join(ctx.root, d), { recursive: true });
  const file = path.join(ctx.root, 'sources.list');
  const want = sourcesList(ctx);
  const have = await readFile(file, 'utf8').catch(() => '');
  const stamp = path.join(ctx.root, 'lists', '.pag-updated');
  const age = await stat(stamp).then((s) => Date.now() - s.mtimeMs).catch(() => Infinity);
  if (have === want && age < (ctx.maxListAge ?? 24 * 3600_000)) return;
  await writeFile(file, want);
  await runTool('apt-get', [...aptOptions(ctx, await emptyStatus(ctx)), '-qq', 'update'], `the package lists of ${context(ctx)}`);
  await writeFile(stamp, want);
}

/** Every `Packages` stanza of the private lists, by `name version`. */
async function readLists(ctx: AptContext): Promise<Map<string, string>> {
  const dir = path.join(ctx.root, 'lists');
  const stanzas = new Map<string, string>();
  for (const f of (await readdir(dir)).sort()) {
    if (!f.endsWith('_Packages')) continue;
    for (const stanza of (await readFile(path.join(dir, f), 'utf8')).split(/\n\n+/)) {
      const fields = parseStanza(stanza);
      if (fields.Package && fields.Version) stanzas.set(`${fields.Package} ${fields.Version}`, stanza.trim());
    }
  }
  return stanzas;
}

export function parseStanza(stanza: string): Record<string, string> {
  const out: Record<string, string> = {};
  let key = '';
  for (const line of stanza.split('\n')) {
    if (/^\s/.test(line) && key) out[key] += `\n${line}`;
    else {
      const i = line.indexOf(':');
      if (i > 0) {
        key = line.slice(0, i);
        out[key] = line.slice(i + 1).trim();
      }
    }
  }
  return out;
}

/** `Inst name [old] (version release [arch])` lines of `apt-get -s install`. */
export function parseSimulation(output: string): DebPackage[] {
  const out: DebPackage[] = [];
  for (const m of output.matchAll(/^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) [^\n]*\[([^\]\s]+)\]\)/gm)) {
    out.push({ name: m[1] as string, version: m[2] as string, arch: m[3] as string });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The dpkg status of a minbase system of the target release (every `Priority: required` package and apt, as
 * debootstrap --variant=minbase installs them), resolved by apt from the private lists. Cached beside them.
 */
export async function referenceStatus(ctx: AptContext): Promise<string> {
  // Keyed by the lists' last refresh, so that reusing it costs no parse of the (large) lists.
  const stamp = path.join(ctx.root, 'lists', '.pag-updated');
  const refreshed = await stat(stamp).then((s) => String(s.mtimeMs), () => 'never');
  const key = createHash('sha256').update(`${sourcesList(ctx)}|${refreshed}`).digest('hex').slice(0, 16);
  const file = path.join(ctx.root, `reference-status-${key}`);
  if (await stat(file).then(() => true, () => false)) return file;
  const lists = await readLists(ctx);
  const required = new Set<string>(['apt']);
  for (const stanza of lists.values()) {
    const f = parseStanza(stanza);
    if (f.Priority === 'required' && f.Package && (f.Architecture === ctx.arch || f.Architecture === 'all')) required.add(f.Package);
  }
  const sim = await runTool(
    'apt-get',
    [...aptOptions(ctx, await emptyStatus(ctx)), '-s', '-y', 'install', ...[...required].sort()],
    `the minimal base of ${context(ctx)}`,
  );
  const status = parseSimulation(sim.stdout)
    .map((p) => lists.get(`${p.name} ${p.version}`))
    .filter((s): s is string => s !== undefined)
    .map((s) => s.replace(/^(Package: .*)$/m, '$1\nStatus: install ok installed'));
  await writeFile(file, `${status.join('\n\n')}\n`);
  return file;
}

/** Resolves PKGS against the reference status, downloads what is missing from the cache, returns the .deb paths. */
export async function downloadPackages(ctx: AptContext, pkgs: string[], status: string): Promise<{ packages: DebPackage[]; files: string[] }> {
  const opts = aptOptions(ctx, status);
  const what = context(ctx);
  const sim = await runTool('apt-get', [...opts, '-s', '-y', 'install', ...pkgs], what);
  const packages = parseSimulation(sim.stdout);
  if (packages.length > 0) {
    await runTool('apt-get', [...opts, '-y', '-qq', '--download-only', 'install', ...pkgs], what, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  const files = packages.map((p) => path.join(ctx.root, 'archives', debFileName(p)));
  for (const f of files) {
    if (!(await stat(f).then(() => true, () => false))) throw new Error(`apt-get reported success but ${f} is missing`);
  }
  return { packages, files };
}

/** The file name apt gives a downloaded package (the epoch's colon is URL-encoded). */
export function debFileName(p: DebPackage): string {
  return `${p.name}_${p.version.replace(/:/g, '%3a')}_${p.arch}.deb`;
}

/** Copies the .debs into DIR and writes Packages and Packages.gz (no timestamp or name in the gzip header). */
export async function writeFlatRepo(dir: string, debs: string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const f of [...new Set(debs)].sort()) await copyFile(f, path.join(dir, path.basename(f)));
  const { stdout } = await runTool('dpkg-scanpackages', ['-m', '.', '/dev/null'], 'the local package repository', {
    cwd: dir,
    missingHint: 'Install it with `apt-get install dpkg-dev`.',
  });
  const text = `${stdout.trimEnd()}\n`;
  await writeFile(path.join(dir, 'Packages'), text);
  await writeFile(path.join(dir, 'Packages.gz'), gzipSync(text, { level: 9 }));
}

/** The stanzas of a flat repository's Packages file. */
export async function readRepoPackages(dir: string): Promise<Record<string, string>[]> {
  const text = await readFile(path.join(dir, 'Packages'), 'utf8');
  return text.split(/\n\n+/).map(parseStanza).filter((f) => f.Package);
}
