/**
 * Reads `roles-templates/` (which mirrors the rendered tree) into path → content. Files ending in `.hbs` are
 * Handlebars templates rendered with a small context of structural values only; every other file is copied
 * as it is. User data never reaches a template: it goes into the generated vars files (generated-vars.ts).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';

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

/** Files under `dir`, as POSIX paths relative to it, sorted by name at each level. Directories are read concurrently. */
async function walk(dir: string, rel = ''): Promise<string[]> {
  const entries = await fs.readdir(path.join(dir, rel), { withFileTypes: true });
  const lists = await Promise.all(
    entries
      .sort((a, b) => a.name.localeCompare(b.name))
      .map(async (e): Promise<string[]> => {
        const relPath = rel ? `${rel}/${e.name}` : e.name;
        // Python leaves byte code beside a plugin that something imported in place (ansible-doc, an editor): not ours.
        if (e.isDirectory()) return e.name === '__pycache__' ? [] : walk(dir, relPath);
        return e.isFile() ? [relPath] : [];
      }),
  );
  return lists.flat();
}

/** Handlebars in strict mode still renders `undefined` helpers' results as empty: fail loudly instead. */
function compile(source: string, name: string): Handlebars.TemplateDelegate<TemplateContext> {
  const hb = Handlebars.create();
  hb.registerHelper('helperMissing', (...args: unknown[]) => {
    const options = args[args.length - 1] as { name?: string };
    throw new Error(`template ${name}: unknown helper or value "${options.name ?? '?'}"`);
  });
  return hb.compile<TemplateContext>(source, { strict: true, noEscape: true });
}

const cache = new Map<string, Map<string, { source: Buffer; mode: number; template?: Handlebars.TemplateDelegate<TemplateContext> }>>();

async function loadTemplates(dir: string) {
  let loaded = cache.get(dir);
  if (loaded) return loaded;
  loaded = new Map();
  // ~90 small files: read concurrently, kept in walk order.
  const files = await walk(dir);
  const read = await Promise.all(
    files.map(async (rel) => {
      const full = path.join(dir, rel);
      const [source, stat] = await Promise.all([fs.readFile(full), fs.stat(full)]);
      return { rel, source, mode: stat.mode & 0o111 ? 0o755 : 0o644 };
    }),
  );
  for (const { rel, source, mode } of read) {
    if (rel.endsWith('.hbs')) {
      loaded.set(rel.slice(0, -'.hbs'.length), { source, mode, template: compile(source.toString('utf8'), rel) });
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
