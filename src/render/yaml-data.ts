/**
 * Serialises user data as YAML that Ansible reads back as the same data and never evaluates:
 * YAML 1.1 (what PyYAML speaks: unquoted `yes`/`on` would become booleans), every string double-quoted and
 * tagged `!unsafe` (Ansible then never templates it), no line folding, keys in the order given.
 */
import { Document, isScalar, visit } from 'yaml';

export type YamlData = string | number | boolean | null | YamlData[] | { [key: string]: YamlData };

/**
 * Characters PyYAML refuses in a stream (outside its printable set), plus those it reads as line breaks
 * inside a quoted scalar (CR, NEL, LS, PS) and the BOM. The yaml library writes some of them raw.
 */
const NOT_SAFE_FOR_PYYAML = /[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\u{10000}-\u{10ffff}]/gu;

function yamlEscape(ch: string): string {
  const code = ch.codePointAt(0) as number;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\U${code.toString(16).padStart(8, '0')}`;
}

const VAULT_PREFIX = '$ANSIBLE_VAULT;';

export function toAnsibleYaml(data: YamlData, header: string): string {
  const doc = new Document(data, { version: '1.1' });
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key') return; // mapping keys are names, not values: Ansible does not template them
      if (typeof node.value !== 'string') return;
      if (node.value.startsWith(VAULT_PREFIX)) {
        // An inline-vaulted connection variable (ansible_password: !vault |): hand it back to Ansible as such.
        node.tag = '!vault';
        node.type = 'BLOCK_LITERAL';
        return;
      }
      node.tag = '!unsafe';
      node.type = 'QUOTE_DOUBLE';
    },
    Pair(_key, pair) {
      // YAML 1.1 resolves unquoted keys such as `on` or `1_000` to other types; quote every non-trivial key.
      if (isScalar(pair.key) && typeof pair.key.value === 'string' && !/^[a-z_][a-z0-9_]*$/.test(pair.key.value)) {
        pair.key.type = 'QUOTE_DOUBLE';
      }
    },
  });
  // Every string is double-quoted (keys that need it too) and the header is sanitised, so whatever unsafe
  // character is left stands inside a double-quoted scalar, where an escape sequence means the same.
  const body = doc.toString({ lineWidth: 0, minContentWidth: 0, indentSeq: true }).replace(NOT_SAFE_FOR_PYYAML, yamlEscape);
  // The header may name user files: keep it one comment per line whatever characters a file name holds.
  const comment = header
    .replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, '?')
    .split('\n')
    .map((l) => (l ? `# ${l}` : '#'))
    .join('\n');
  return `---\n${comment}\n${body}`;
}
