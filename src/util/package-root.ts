/** Locates files shipped in the package (templates, schemas), from a clone or an installed tarball alike. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/util/ or src/util/ → package root, two levels up. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const templatesDir = path.join(packageRoot, 'roles-templates');
export const schemasDir = path.join(packageRoot, 'schemas');

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}
