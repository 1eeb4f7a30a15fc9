/**
 * The bundle's SBOM: CycloneDX 1.5 JSON listing every component that went in (Debian packages, the Node runtime,
 * npm packages, Python wheels, conda packages), each with version, purl, SHA hashes and the licence where it is
 * cheaply known (npm's package.json, a wheel's METADATA). Deterministic: sorted, timestamp = SOURCE_DATE_EPOCH,
 * serial number derived from the content.
 */
import { createHash } from 'node:crypto';
import { byCodeUnit } from '../util/compare.js';

export interface Component {
  type: 'application' | 'library' | 'platform' | 'file';
  name: string;
  version?: string;
  purl?: string;
  /** Algorithm (CycloneDX spelling, e.g. SHA-256) → hex. */
  hashes?: Record<string, string>;
  license?: string;
  /** Where it is inside the bundle. */
  path?: string;
  /** What needs it: controller, hosts, flow:<name>. */
  scope?: string;
}

/** purl components are percent-encoded except for the unreserved characters (purl spec). */
const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function debPurl(distro: string, target: string, name: string, version: string, arch: string): string {
  return `pkg:deb/${distro}/${enc(name)}@${enc(version)}?arch=${enc(arch)}&distro=${enc(target)}`;
}

export function npmPurl(name: string, version: string): string {
  const [scope, bare] = name.startsWith('@') ? name.split('/') : [undefined, name];
  return `pkg:npm/${scope ? `${enc(scope)}/` : ''}${enc(bare as string)}@${enc(version)}`;
}

/** PEP 503 normalised name. */
export function pypiPurl(name: string, version: string): string {
  return `pkg:pypi/${enc(name.toLowerCase().replace(/[-_.]+/g, '-'))}@${enc(version)}`;
}

export function condaPurl(name: string, version: string, build: string, subdir: string, type: string): string {
  return `pkg:conda/${enc(name)}@${enc(version)}?build=${enc(build)}&subdir=${enc(subdir)}&type=${enc(type)}`;
}

const SPDX_IDS = new Set([
  '0BSD', 'Apache-2.0', 'BSD-2-Clause', 'BSD-3-Clause', 'BlueOak-1.0.0', 'CC0-1.0', 'ISC', 'MIT', 'MIT-0', 'MPL-2.0',
  'Python-2.0', 'PSF-2.0', 'Unlicense', 'Zlib', 'LGPL-2.1-only', 'LGPL-2.1-or-later', 'LGPL-3.0-only', 'LGPL-3.0-or-later',
  'GPL-2.0-only', 'GPL-2.0-or-later', 'GPL-3.0-only', 'GPL-3.0-or-later', 'WTFPL', 'CC-BY-4.0', 'Artistic-2.0',
]);

function licenseEntry(license: string): unknown[] {
  if (SPDX_IDS.has(license)) return [{ license: { id: license } }];
  if (/ (AND|OR|WITH) /.test(license) || /^\(.*\)$/.test(license)) return [{ expression: license }];
  return [{ license: { name: license } }];
}

export interface SbomInput {
  name: string;
  version: string;
  epoch: number;
  toolVersion: string;
  components: Component[];
}

export function buildSbom(input: SbomInput): Record<string, unknown> {
  // One entry per component; the same package used in several places (the hosts' and a flow's environment)
  // lists every place and every user.
  const byRef = new Map<string, { c: Component; paths: Set<string>; scopes: Set<string> }>();
  for (const c of input.components) {
    const ref = c.purl ?? `file:${c.path ?? c.name}`;
    const e = byRef.get(ref) ?? { c, paths: new Set<string>(), scopes: new Set<string>() };
    if (c.path !== undefined) e.paths.add(c.path);
    if (c.scope !== undefined) e.scopes.add(c.scope);
    byRef.set(ref, e);
  }
  const components = [...byRef.entries()]
    .sort(([a], [b]) => byCodeUnit(a, b))
    .map(([ref, { c, paths, scopes }]) => ({
      type: c.type,
      'bom-ref': ref,
      name: c.name,
      ...(c.version !== undefined && { version: c.version }),
      ...(c.purl !== undefined && { purl: c.purl }),
      ...(c.hashes && { hashes: Object.keys(c.hashes).sort().map((alg) => ({ alg, content: c.hashes?.[alg] })) }),
      ...(c.license && { licenses: licenseEntry(c.license) }),
      properties: [
        ...[...paths].sort(byCodeUnit).map((value) => ({ name: 'pag-ansible:path', value })),
        ...[...scopes].sort(byCodeUnit).map((value) => ({ name: 'pag-ansible:used-by', value })),
      ],
    }));
  const body = {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    version: 1,
    metadata: {
      timestamp: new Date(input.epoch * 1000).toISOString().replace(/\.000Z$/, 'Z'),
      tools: { components: [{ type: 'application', name: 'pag-ansible', version: input.toolVersion }] },
      component: { type: 'application', 'bom-ref': `bundle:${input.name}`, name: input.name, version: input.version },
    },
    components,
  };
  const digest = createHash('sha256').update(JSON.stringify(body)).digest('hex');
  // A UUID (version 5 layout) derived from the content: the same bundle gets the same serial number.
  const uuid = `${digest.slice(0, 8)}-${digest.slice(8, 12)}-5${digest.slice(13, 16)}-${((parseInt(digest.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${digest.slice(18, 20)}-${digest.slice(20, 32)}`;
  return { bomFormat: body.bomFormat, specVersion: body.specVersion, serialNumber: `urn:uuid:${uuid}`, version: 1, metadata: body.metadata, components };
}

export interface SbomComponentView {
  type: string;
  name: string;
  version: string;
  purl: string;
  licenses: string[];
  usedBy: string;
}

/** The components of an SBOM as `bundle inspect` shows them. */
export function readSbom(json: unknown): { bundle: string; version: string; components: SbomComponentView[] } {
  const doc = json as {
    metadata?: { component?: { name?: string; version?: string } };
    components?: {
      type: string;
      name: string;
      version?: string;
      purl?: string;
      licenses?: { license?: { id?: string; name?: string }; expression?: string }[];
      properties?: { name: string; value: string }[];
    }[];
  };
  return {
    bundle: doc.metadata?.component?.name ?? '',
    version: doc.metadata?.component?.version ?? '',
    components: (doc.components ?? []).map((c) => ({
      type: c.type,
      name: c.name,
      version: c.version ?? '',
      purl: c.purl ?? '',
      licenses: (c.licenses ?? []).map((l) => l.expression ?? l.license?.id ?? l.license?.name ?? '').filter((l) => l !== ''),
      usedBy: (c.properties ?? []).filter((p) => p.name === 'pag-ansible:used-by').map((p) => p.value).join(','),
    })),
  };
}
