/**
 * Serialises user data as YAML that Ansible reads back as the same data and never evaluates:
 * YAML 1.1 (what PyYAML speaks: unquoted `yes`/`on` would become booleans), every string double-quoted and
 * tagged `!unsafe` (Ansible then never templates it), no line folding, keys in the order given.
 */
import { Document, isScalar, visit } from 'yaml';

export type YamlData = string | number | boolean | null | YamlData[] | { [key: string]: YamlData };

export function toAnsibleYaml(data: YamlData, header: string): string {
  const doc = new Document(data, { version: '1.1' });
  visit(doc, {
    Scalar(key, node) {
      if (key === 'key') return; // mapping keys are names, not values: Ansible does not template them
      if (typeof node.value === 'string') {
        node.tag = '!unsafe';
        node.type = 'QUOTE_DOUBLE';
      }
    },
    Pair(_key, pair) {
      // YAML 1.1 resolves unquoted keys such as `on` or `1_000` to other types; quote every non-trivial key.
      if (isScalar(pair.key) && typeof pair.key.value === 'string' && !/^[a-z_][a-z0-9_]*$/.test(pair.key.value)) {
        pair.key.type = 'QUOTE_DOUBLE';
      }
    },
  });
  const body = doc.toString({ lineWidth: 0, minContentWidth: 0, indentSeq: true });
  // The header may name user files: keep it one comment per line whatever characters a file name holds.
  const comment = header
    .replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, '?')
    .split('\n')
    .map((l) => (l ? `# ${l}` : '#'))
    .join('\n');
  return `---\n${comment}\n${body}`;
}
