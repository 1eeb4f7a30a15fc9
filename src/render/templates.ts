/**
 * Reads `roles-templates/` (which mirrors the rendered tree) into path → content. Files ending in `.hbs` are
 * Handlebars templates rendered with a small context of structural values only; every other file is copied
 * as it is. User data never reaches a template: it goes into the generated vars files (generated-vars.ts).
 *
 * The build precompiles the templates (precompiledTemplatesModule, written by scripts/build-dist.mjs), so a render
 * loads Handlebars' small runtime, not its compiler; a template whose source differs from the one precompiled (an
 * edited checkout, tests run from src/) is compiled here as before.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type HandlebarsCompiler from 'handlebars';
// The runtime's own typings export nothing; it is the compiler's API less compile() and precompile().
import HandlebarsRuntimeUntyped from 'handlebars/runtime.js';
import { byCodeUnit } from '../util/compare.js';
import { sha256 } from '../util/hash.js';

type HandlebarsEnv = Pick<typeof HandlebarsCompiler, 'create' | 'registerHelper' | 'template'>;
const HandlebarsRuntime = HandlebarsRuntimeUntyped as unknown as HandlebarsEnv;
const require = createRequire(import.meta.url);

export interface TemplateContext {
  pagVersion: string;
  ansibleMinVersion: string;
  ansibleMaxVersion: string;
  forks: number;
}

export interface TemplateFile {
  content: Buffer;
  /** Unix permission bits to give the written file. */
  mode: number;
}

/** Files under `dir`, as POSIX paths relative to it, sorted by name at each level. */
function walk(dir: string, rel = ''): string[] {
  const entries = readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => byCodeUnit(a.name, b.name));
  return entries.flatMap((e): string[] => {
    const relPath = rel ? `${rel}/${e.name}` : e.name;
    // Python leaves byte code beside a plugin that something imported in place (ansible-doc, an editor): not ours.
    if (e.isDirectory()) return e.name === '__pycache__' ? [] : walk(dir, relPath);
    return e.isFile() ? [relPath] : [];
  });
}

type Template = HandlebarsTemplateDelegate<TemplateContext>;
const COMPILE_OPTIONS = { strict: true, noEscape: true } as const;

/** Handlebars in strict mode still renders `undefined` helpers' results as empty: fail loudly instead. */
function failOnMissingHelpers<T extends Pick<HandlebarsEnv, 'registerHelper'>>(hb: T, name: string): T {
  hb.registerHelper('helperMissing', (...args: unknown[]) => {
    const options = args[args.length - 1] as { name?: string };
    throw new Error(`template ${name}: unknown helper or value "${options.name ?? '?'}"`);
  });
  return hb;
}

/** Where the build writes the precompiled templates: templates/ beside render/ (and bundled/) in dist/. */
export const precompiledTemplatesPath = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'templates', 'precompiled.cjs');

/** What the precompiled module exports: per template path under roles-templates/, its source's hash and its spec. */
export type PrecompiledTemplates = Record<string, { sourceSha256: string; spec: TemplateSpecification }>;


function readPrecompiled(): PrecompiledTemplates {
  try {
    return (require(precompiledTemplatesPath) as { templates: PrecompiledTemplates }).templates;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return {};
    throw e;
  }
}

/** The template REL (its path under roles-templates/): precompiled when the build saw this very source, else compiled. */
export async function templateFor(source: Buffer, rel: string, precompiled: PrecompiledTemplates): Promise<Template> {
  const entry = precompiled[rel];
  if (entry && entry.sourceSha256 === sha256(source)) {
    return failOnMissingHelpers(HandlebarsRuntime.create(), rel).template<TemplateContext>(entry.spec);
  }
  const { default: Handlebars } = await import('handlebars');
  return failOnMissingHelpers(Handlebars.create(), rel).compile<TemplateContext>(source.toString('utf8'), COMPILE_OPTIONS);
}

/** The source of a CommonJS module exporting every template under DIR precompiled (for the build). */
export async function precompiledTemplatesModule(dir: string): Promise<string> {
  const { default: Handlebars } = await import('handlebars');
  const entries: string[] = [];
  for (const rel of walk(dir)) {
    if (!rel.endsWith('.hbs')) continue;
    const source = readFileSync(path.join(dir, rel));
    const spec = Handlebars.precompile(source.toString('utf8'), COMPILE_OPTIONS) as unknown as string;
    entries.push(`  ${JSON.stringify(rel)}: { sourceSha256: ${JSON.stringify(sha256(source))}, spec: ${spec} },`);
  }
  return `module.exports.templates = {\n${entries.join('\n')}\n};\n`;
}

const cache = new Map<string, Map<string, { source: Buffer; mode: number; template?: Template }>>();

async function loadTemplates(dir: string) {
  let loaded = cache.get(dir);
  if (loaded) return loaded;
  loaded = new Map();
  // ~90 small files, read one after the other: for files this small that is twice as fast as reading them
  // concurrently through the thread pool (measured: 10 vs 21 ms).
  const read = walk(dir).map((rel) => {
    const full = path.join(dir, rel);
    return { rel, source: readFileSync(full), mode: statSync(full).mode & 0o111 ? 0o755 : 0o644 };
  });
  const precompiled = read.some(({ rel }) => rel.endsWith('.hbs')) ? readPrecompiled() : {};
  for (const { rel, source, mode } of read) {
    if (rel.endsWith('.hbs')) {
      loaded.set(rel.slice(0, -'.hbs'.length), { source, mode, template: await templateFor(source, rel, precompiled) });
    } else {
      loaded.set(rel, { source, mode });
    }
  }
  cache.set(dir, loaded);
  return loaded;
}

export async function renderTemplates(dir: string, context: TemplateContext): Promise<Map<string, TemplateFile>> {
  const out = new Map<string, TemplateFile>();
  for (const [rel, t] of await loadTemplates(dir)) {
    const content = t.template ? Buffer.from(t.template(context), 'utf8') : t.source;
    out.set(rel, { content, mode: t.mode });
  }
  return out;
}
