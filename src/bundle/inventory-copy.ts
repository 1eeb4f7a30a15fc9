/**
 * The inventory that goes into the bundle: the user's file byte for byte, except the controller paths of
 * prefect_environment, replaced by paths relative to the bundle's top directory (the loader resolves them against
 * the inventory's own directory), so the unpacked bundle works wherever it is, without hand edits.
 */
import { isMap, isScalar, parseDocument } from 'yaml';
import { UsageError } from '../errors.js';

export function rewriteInventory(
  text: string,
  paths: Record<string, string>,
  displayPath: string,
  add: Record<string, string> = {},
): string {
  if (text.startsWith('$ANSIBLE_VAULT;')) {
    throw new UsageError(`${displayPath} is vault-encrypted: bundle build must rewrite its artefact paths`, 'Keep the inventory plain (secrets belong in the secrets file).');
  }
  const doc = parseDocument(text, { keepSourceTokens: true });
  const env = doc.getIn(['all', 'vars', 'prefect_environment'], true);
  const edits: { start: number; end: number; value: string }[] = [];
  for (const [key, value] of Object.entries(paths)) {
    const node = isMap(env) ? env.get(key, true) : undefined;
    if (!isScalar(node) || !node.range) {
      throw new UsageError(`${displayPath}: all.vars.prefect_environment.${key} must be a plain value for bundle build to rewrite it`);
    }
    edits.push({ start: node.range[0], end: node.range[1], value: JSON.stringify(value) });
  }
  // New keys of all.vars go on their own line just before prefect_environment, at its indentation.
  const vars = doc.getIn(['all', 'vars'], true);
  const envPair = isMap(vars) ? vars.items.find((i) => isScalar(i.key) && i.key.value === 'prefect_environment') : undefined;
  const keyRange = envPair && isScalar(envPair.key) ? envPair.key.range : undefined;
  for (const [key, value] of Object.entries(add)) {
    if (isMap(vars) && vars.has(key)) {
      const node = vars.get(key, true);
      if (!isScalar(node) || !node.range) throw new UsageError(`${displayPath}: all.vars.${key} must be a plain value for bundle build to rewrite it`);
      edits.push({ start: node.range[0], end: node.range[1], value: JSON.stringify(value) });
      continue;
    }
    if (!keyRange || vars === undefined || (isMap(vars) && vars.flow)) {
      throw new UsageError(`${displayPath}: all.vars must be a block mapping for bundle build to add ${key} to it`);
    }
    const lineStart = text.lastIndexOf('\n', keyRange[0] - 1) + 1;
    const indent = text.slice(lineStart, keyRange[0]);
    if (!/^ *$/.test(indent)) throw new UsageError(`${displayPath}: prefect_environment must start its own line for bundle build to add ${key}`);
    edits.push({ start: lineStart, end: lineStart, value: `${indent}${key}: ${JSON.stringify(value)}   # added by pag-ansible bundle build\n` });
  }
  let out = text;
  for (const e of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, e.start) + e.value + out.slice(e.end);
  return out;
}
