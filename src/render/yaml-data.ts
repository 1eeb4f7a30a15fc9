/**
 * Serialises user data as YAML that Ansible reads back as the same data and never evaluates:
 * YAML 1.1 semantics (what PyYAML speaks: unquoted `yes`/`on` would become booleans), every string
 * double-quoted and tagged `!unsafe` (Ansible then never templates it), no line folding, keys in the order given.
 *
 * A dedicated emitter rather than the `yaml` library's Document API: the data has a fixed, simple shape and
 * this is ~50x faster on a 2,000-host inventory. Correctness is pinned by property tests that read the output
 * back with the `yaml` parser and with real Ansible.
 */

import { VaultText, YamlNumber } from '../config/yaml11.js';

/**
 * Strings are always written as `!unsafe` text; only a VaultText (a value tagged `!vault` in the user's file) is
 * written as vault data. YamlNumber keeps a float a float and every digit of a big integer.
 */
export type YamlData = string | number | boolean | null | YamlNumber | VaultText | YamlData[] | { [key: string]: YamlData };

/**
 * Characters PyYAML refuses in a stream (outside its printable set), plus those it reads as line breaks
 * inside a quoted scalar (NEL, LS, PS) and the BOM. JSON.stringify leaves these raw.
 */
const NOT_SAFE_FOR_PYYAML = /[^\t\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\u{10000}-\u{10ffff}]/gu;

function yamlEscape(ch: string): string {
  const code = ch.codePointAt(0) as number;
  if (code < 0x100) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code < 0x10000) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\U${code.toString(16).padStart(8, '0')}`;
}

/**
 * A YAML double-quoted scalar. JSON's escapes (\" \\ \n \t \uXXXX …) are all valid YAML escapes, so
 * JSON.stringify gives the right quoting; what it leaves raw and PyYAML would reject is escaped after.
 */
function quote(s: string): string {
  const json = JSON.stringify(s);
  // Most values are printable ASCII, which needs no escape: skip the unicode-aware scan for them.
  return PRINTABLE_ASCII.test(json) ? json : json.replace(NOT_SAFE_FOR_PYYAML, yamlEscape);
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** Plain keys only where no YAML 1.1 resolver can read them as anything but that string. */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** YAML 1.1 booleans and nulls, in any case (a superset of PyYAML's spellings). */
const YAML11_RESERVED = new Set(['y', 'n', 'yes', 'no', 'on', 'off', 'true', 'false', 'null']);

/** Keys repeat on every host (ansible_host, pool, unit …): each is worked out once. */
const keyCache = new Map<string, string>();

function key(k: string): string {
  let written = keyCache.get(k);
  if (written === undefined) {
    written = PLAIN_KEY.test(k) && !YAML11_RESERVED.has(k.toLowerCase()) ? k : quote(k);
    if (keyCache.size < 10_000) keyCache.set(k, written);
  }
  return written;
}

/**
 * PyYAML allows an implicit key of at most 1024 characters; longer keys take the explicit form (`? key` then
 * `: value` on the next line). The margin covers the indentation and `: ` that count towards the limit.
 */
const MAX_IMPLICIT_KEY = 1000;

/** A scalar, or a flow-style empty collection, as it stands after `key: ` or `- `; undefined for nested. */
function inline(v: YamlData, indent: string): string | undefined {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`cannot serialise the number ${v}`);
    // An integral JS number is an integer; a fraction is a float, written so PyYAML reads a float (`1e-7` → `1.0e-07`).
    return Number.isInteger(v) ? (Number.isSafeInteger(v) ? String(v) : BigInt(v).toString()) : new YamlNumber('float', String(v), v).yamlText;
  }
  if (v instanceof YamlNumber) return v.yamlText;
  if (v instanceof VaultText) {
    // An inline-vaulted connection variable (ansible_password: !vault |): hand it back to Ansible as such.
    const lines = v.ciphertext.trimEnd().split('\n');
    return `!vault |-\n${lines.map((l) => `${indent}  ${l}`).join('\n')}`;
  }
  if (typeof v === 'string') return `!unsafe ${quote(v)}`;
  if (Array.isArray(v)) return v.length === 0 ? '[]' : undefined;
  return Object.keys(v).length === 0 ? '{}' : undefined;
}

/**
 * Collects the output as UTF-8 in one growing buffer. A 2,000-host inventory is some 200,000 small strings: kept
 * until one final join they all survive, and the garbage collector keeps copying them (most of the emitter's time
 * in a cold process); written out every 2 KB, they die young.
 */
class Output {
  private pending = '';
  private bytes = Buffer.allocUnsafe(65_536);
  private length = 0;

  add(text: string): void {
    this.pending += text;
    if (this.pending.length > 2_048) this.flush();
  }

  private flush(): void {
    // A UTF-8 character takes at most 3 bytes per UTF-16 unit.
    const need = this.length + this.pending.length * 3;
    if (need > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(need, this.bytes.length * 2));
      this.bytes.copy(grown, 0, 0, this.length);
      this.bytes = grown;
    }
    this.length += this.bytes.write(this.pending, this.length, 'utf8');
    this.pending = '';
  }

  text(): string {
    this.flush();
    return this.bytes.toString('utf8', 0, this.length);
  }
}

/**
 * Writes the block lines of a nested value, each ending in a newline. `first` is what the first line starts with in
 * place of the indentation: a mapping in a sequence puts its first key on the dash's line.
 */
function emit(v: YamlData, indent: string, first: string, out: Output): void {
  const nested = `${indent}  `;
  let lead = first;
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = inline(item, indent);
      if (s !== undefined) out.add(`${lead}- ${s}\n`);
      else if (Array.isArray(item)) {
        out.add(`${lead}-\n`);
        emit(item, nested, nested, out);
      } else emit(item, nested, `${lead}- `, out);
      lead = indent;
    }
    return;
  }
  const record = v as Record<string, YamlData>;
  for (const k of Object.keys(record)) {
    const item = record[k] as YamlData;
    const s = inline(item, indent);
    const written = key(k);
    if (written.length > MAX_IMPLICIT_KEY) {
      out.add(`${lead}? ${written}\n`);
      if (s !== undefined) out.add(`${indent}: ${s}\n`);
      else {
        out.add(`${indent}:\n`);
        emit(item, nested, nested, out);
      }
    } else if (s !== undefined) out.add(`${lead}${written}: ${s}\n`);
    else {
      out.add(`${lead}${written}:\n`);
      emit(item, nested, nested, out);
    }
    lead = indent;
  }
}

export function toAnsibleYaml(data: YamlData, header: string): string {
  // The header may name user files: keep it one comment per line whatever characters a file name holds.
  const comment = header
    .replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/g, '?')
    .split('\n')
    .map((l) => (l ? `# ${l}` : '#'))
    .join('\n');
  const top = inline(data, '');
  if (top !== undefined) return `---\n${comment}\n${top}\n`;
  const out = new Output();
  out.add(`---\n${comment}\n`);
  emit(data, '', '', out);
  return out.text();
}
