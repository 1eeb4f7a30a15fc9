/**
 * A fast reader for the plain block YAML that most inventories are written in: nested block mappings and
 * sequences, plain or simply quoted one-line scalars, one-line flow sequences of plain scalars, comments. On a
 * 2,000-host inventory it reads in a few milliseconds what the full reader (yaml-full.ts) needs a few hundred for.
 *
 * It reads nothing it is not sure of: anything else (anchors, tags other than `!unsafe` on a one-line scalar, block
 * scalars, flow mappings, multi-line scalars, escapes, tabs, non-ASCII text, duplicate or non-text keys, any scalar
 * Ansible cannot read) makes it return undefined, and the caller reads the file with the full reader. What it
 * returns is what the full reader returns: the same constructors build every scalar (yaml11.ts), and
 * test/unit/config/yaml-simple.test.ts checks the two readers against each other on generated documents, positions
 * included.
 */
import { constructPlain, resolvePlain } from './yaml11.js';
import type { PathSegment } from './yaml-types.js';

export interface SimpleYaml {
  data: unknown;
  /** As YamlSource.plainTextOf: the source of the plain scalar at `path`, undefined when quoted or absent. */
  plainTextOf(path: readonly PathSegment[]): string | undefined;
  /**
   * As YamlSource.positionOf, and the same line and column as the full reader gives: where the node at `path` starts
   * (a collection at its first key or dash, a scalar after its tag), or its key; the nearest ancestor when absent.
   */
  positionOf(path: readonly PathSegment[], part?: 'key' | 'value'): { line: number; col: number };
}

/** Where each node of the document starts, as the full reader reports it (1-based line and column). */
interface Position {
  line: number;
  col: number;
}
interface PositionNode {
  at: Position;
  /** `key:` with nothing after it: the full reader points at the key instead. */
  empty?: boolean;
  entries?: Map<string, { key: Position; node: PositionNode }>;
  items?: PositionNode[];
}

/**
 * Characters refused anywhere, comments included: tabs and carriage returns, and whatever PyYAML reads as a line
 * break (NEL, LS, PS) or refuses as non-printable. Outside comments, the patterns below admit only ASCII.
 */
const REFUSED = /[^\n\x20-\x7e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]/;
/** The text between quotes: printable ASCII, no backslash (an escape in double quotes). */
const QUOTED = /^[\x20-\x7e]*$/;
/** A key: a plain name (host, group, variable), read as text by YAML 1.1 (checked with resolvePlain below). */
const KEY = /^([A-Za-z0-9_][A-Za-z0-9_./-]*):(?: +|$)/;
/** A plain scalar of a block value, before any comment: no indicator first, no ': ' or '#' inside. */
const PLAIN = /^(?:[A-Za-z0-9_./~=+(]|-[0-9.])[A-Za-z0-9_./~=+:,() -]*$/;
/** A plain item of a one-line flow sequence. */
const FLOW_ITEM = /^[A-Za-z0-9_][A-Za-z0-9_./=+-]*$/;
const MAX_DEPTH = 32;
/** The one tag the reader takes, followed by its space. */
const UNSAFE_TAG = '!unsafe ';

interface Line {
  /** 1-based, in the whole text. */
  number: number;
  indent: number;
  /** The line without its indentation and trailing spaces. */
  text: string;
}

/** The shadow of a collection: each entry's plain source text (scalars) or nested shadow (collections). */
type Shadow = Map<string, Shadow | string | undefined> | (Shadow | string | undefined)[];

class Unsupported extends Error {}

function unsupported(): never {
  throw new Unsupported();
}

export function readSimpleYaml(text: string): SimpleYaml | undefined {
  if (REFUSED.test(text)) return undefined;
  const lines: Line[] = [];
  const raws = text.split('\n');
  raws.forEach((raw, i) => {
    // Spaces only: JS's trim would also take no-break and other Unicode spaces, which YAML reads as text.
    const body = raw.replace(/ +$/, '');
    const trimmed = body.replace(/^ +/, '');
    if (trimmed === '' || trimmed.startsWith('#')) return;
    lines.push({ number: i + 1, indent: body.length - trimmed.length, text: trimmed });
  });
  // One optional document start, at the top; any other marker is outside the subset.
  if (lines[0]?.text === '---' && lines[0].indent === 0) lines.shift();
  if (lines.length === 0 || lines.some((l) => l.indent === 0 && (l.text.startsWith('---') || l.text.startsWith('...')))) return undefined;
  try {
    const reader = new Reader(lines);
    const { value, shadow } = reader.node(lines[0]!.indent, 0);
    if (reader.at < lines.length) return undefined;
    // Positions are for findings, which most runs have none of: read again for them, once, when first asked.
    let positions: PositionNode | undefined;
    return {
      data: value,
      plainTextOf: (path) => plainTextIn(shadow, path),
      positionOf: (path, part = 'value') => positionIn((positions ??= positionsOf(lines, raws)), path, part),
    };
  } catch (e) {
    if (e instanceof Unsupported) return undefined;
    throw e;
  }
}

function plainTextIn(shadow: Shadow | string | undefined, path: readonly PathSegment[]): string | undefined {
  let node = shadow;
  for (const segment of path) {
    if (node instanceof Map) node = node.get(String(segment));
    else if (Array.isArray(node) && typeof segment === 'number') node = node[segment];
    else return undefined;
  }
  return typeof node === 'string' ? node : undefined;
}

/** The full reader's walk (yaml-full.ts NodeLocator): as deep as the path exists, then the node or its key. */
function positionIn(root: PositionNode, path: readonly PathSegment[], part: 'key' | 'value'): Position {
  let node = root;
  let key: Position | undefined;
  for (const segment of path) {
    const entry = node.entries?.get(String(segment));
    const item = typeof segment === 'number' ? node.items?.[segment] : undefined;
    if (entry) {
      key = entry.key;
      node = entry.node;
    } else if (item) {
      key = undefined;
      node = item;
    } else break;
  }
  return (part === 'key' || node.empty) && key ? key : node.at;
}

/** Reads the lines again (they are known to be in the subset), noting where each node starts. */
function positionsOf(lines: Line[], raws: string[]): PositionNode {
  const at = (line: Line, offset: number): Position => ({ line: line.number, col: line.indent + offset + 1 });
  let i = 0;
  const node = (): PositionNode => (isItem(lines[i]!.text) ? sequence() : mapping());
  const mapping = (): PositionNode => {
    const first = lines[i]!;
    const entries = new Map<string, { key: Position; node: PositionNode }>();
    while (i < lines.length && lines[i]!.indent === first.indent && !isItem(lines[i]!.text)) {
      const line = lines[i++]!;
      const match = KEY.exec(line.text) as RegExpExecArray;
      const rest = line.text.slice(match[0].length);
      const child = rest === '' || rest.startsWith('#') ? nested(line, true) : inline(line, match[0].length);
      entries.set(match[1] as string, { key: at(line, 0), node: child });
    }
    return { at: at(first, 0), entries };
  };
  const sequence = (): PositionNode => {
    const first = lines[i]!;
    const items: PositionNode[] = [];
    while (i < lines.length && lines[i]!.indent === first.indent && isItem(lines[i]!.text)) {
      const line = lines[i++]!;
      const rest = line.text.slice(1).trimStart();
      if (rest !== '' && !rest.startsWith('#')) items.push(inline(line, line.text.length - rest.length));
      else {
        const child = nested(line, false);
        // An empty item is a zero-width node after the dash and its spaces (on a comment, or at the line's end).
        if (child.empty) child.at = { line: line.number, col: line.indent + 1 + (raws[line.number - 1] as string).slice(line.indent + 1).search(/[^ ]|$/) + 1 };
        items.push(child);
      }
    }
    return { at: at(first, 0), items };
  };
  const nested = (owner: Line, underKey: boolean): PositionNode => {
    const next = lines[i];
    if (next && (next.indent > owner.indent || (underKey && next.indent === owner.indent && isItem(next.text)))) return node();
    return { at: at(owner, 0), empty: true };
  };
  const inline = (line: Line, offset: number): PositionNode => {
    let rest = line.text.slice(offset);
    if (rest.startsWith(UNSAFE_TAG)) {
      const value = rest.slice(UNSAFE_TAG.length).replace(/^ +/, '');
      offset += rest.length - value.length;
      rest = value;
    }
    if (!rest.startsWith('[')) return { at: at(line, offset) };
    // A flow sequence: each item where its text starts.
    const items: PositionNode[] = [];
    const close = withoutComment(rest).length - 1;
    let start = 1;
    while (start < close) {
      const end = rest.indexOf(',', start);
      const stop = end < 0 || end > close ? close : end;
      const lead = rest.slice(start, stop).search(/[^ ]/);
      if (lead >= 0) items.push({ at: at(line, offset + start + lead) });
      start = stop + 1;
    }
    return { at: at(line, offset), items };
  };
  return node();
}

class Reader {
  at = 0;

  constructor(private readonly lines: Line[]) {}

  /** The collection starting at the current line, which has indentation `indent`. */
  node(indent: number, depth: number): { value: unknown; shadow: Shadow } {
    if (depth > MAX_DEPTH) unsupported();
    return isItem(this.lines[this.at]!.text) ? this.sequence(indent, depth) : this.mapping(indent, depth);
  }

  private mapping(indent: number, depth: number): { value: Record<string, unknown>; shadow: Shadow } {
    const value: Record<string, unknown> = {};
    const shadow = new Map<string, Shadow | string | undefined>();
    while (this.at < this.lines.length) {
      const line = this.lines[this.at]!;
      if (line.indent < indent) break;
      if (line.indent > indent || isItem(line.text)) unsupported();
      const match = KEY.exec(line.text);
      if (!match) unsupported();
      const key = match[1]!;
      if (resolvePlain(key) !== 'str' || key === '__proto__' || shadow.has(key)) unsupported();
      this.at++;
      const rest = line.text.slice(match[0].length);
      const entry = rest === '' || rest.startsWith('#') ? this.nested(indent, true, depth) : this.inline(rest, indent);
      value[key] = entry.value;
      shadow.set(key, entry.shadow);
    }
    return { value, shadow };
  }

  private sequence(indent: number, depth: number): { value: unknown[]; shadow: Shadow } {
    const value: unknown[] = [];
    const shadow: (Shadow | string | undefined)[] = [];
    while (this.at < this.lines.length) {
      const line = this.lines[this.at]!;
      if (line.indent < indent || (line.indent === indent && !isItem(line.text))) break;
      if (line.indent > indent) unsupported();
      this.at++;
      const rest = line.text.slice(1).trimStart();
      // `- key: value` (a mapping in the item) and `- - x` are outside the subset.
      if (KEY.test(rest) || isItem(rest)) unsupported();
      const entry = rest === '' || rest.startsWith('#') ? this.nested(indent, false, depth) : this.inline(rest, indent);
      value.push(entry.value);
      shadow.push(entry.shadow);
    }
    return { value, shadow };
  }

  /** The value of a key or item with nothing after it on its line: a deeper collection, or null. */
  private nested(indent: number, underKey: boolean, depth: number): { value: unknown; shadow: Shadow | string | undefined } {
    const next = this.lines[this.at];
    // A mapping's value may be a sequence at the key's own indentation.
    if (next && (next.indent > indent || (underKey && next.indent === indent && isItem(next.text)))) return this.node(next.indent, depth + 1);
    return { value: null, shadow: '' };
  }

  /** A value on the key's or item's own line; the next line must not be deeper (that would continue it). */
  private inline(rest: string, indent: number): { value: unknown; shadow: Shadow | string | undefined } {
    const next = this.lines[this.at];
    if (next && next.indent > indent) unsupported();
    return scalarOrFlow(rest);
  }
}

/** `-` alone or followed by a space starts a sequence item. */
function isItem(text: string): boolean {
  return text === '-' || text.startsWith('- ');
}

/** The text before a comment (` #`), which must follow the value after whitespace. */
function withoutComment(text: string): string {
  const hash = text.indexOf(' #');
  return (hash < 0 ? text : text.slice(0, hash)).replace(/ +$/, '');
}

function scalarOrFlow(rest: string): { value: unknown; shadow: Shadow | string | undefined } {
  if (rest.startsWith(UNSAFE_TAG)) return unsafeScalar(rest.slice(UNSAFE_TAG.length).replace(/^ +/, ''));
  const first = rest[0];
  if (first === '"' || first === "'") return { value: quotedScalar(rest), shadow: undefined };
  const value = withoutComment(rest);
  if (first === '[') return flowSequence(value);
  checkPlain(value);
  return { value: plainScalar(value), shadow: value };
}

/** The text of a one-line quoted scalar with nothing but a comment after it. */
function quotedScalar(rest: string): string {
  const first = rest[0] as string;
  const close = rest.indexOf(first, 1);
  if (close < 0 || !QUOTED.test(rest.slice(1, close)) || rest.slice(1, close).includes('\\')) unsupported();
  const after = rest.slice(close + 1);
  if (after !== '' && !/^ +(?:#.*)?$/.test(after)) unsupported();
  // Quoted text is text; a single-quoted '' (an escaped quote) would end it early, so the check above refuses it.
  return rest.slice(1, close);
}

function checkPlain(value: string): void {
  if (!PLAIN.test(value) || value.includes(': ') || value.endsWith(':') || value.includes('#')) unsupported();
}

/**
 * A scalar tagged `!unsafe` (secrets.example.yml's form: Ansible never templates it): its text as it stands, never
 * read as a number or boolean, as the full reader's `!unsafe` tag does. Tagged, so it has no plain text.
 */
function unsafeScalar(rest: string): { value: string; shadow: undefined } {
  const first = rest[0];
  if (first === '"' || first === "'") return { value: quotedScalar(rest), shadow: undefined };
  const value = withoutComment(rest);
  checkPlain(value);
  return { value, shadow: undefined };
}

function flowSequence(text: string): { value: unknown[]; shadow: Shadow } {
  if (!text.endsWith(']')) unsupported();
  const inner = text.slice(1, -1).trim();
  const items = inner === '' ? [] : inner.split(',').map((item) => item.trim());
  for (const item of items) if (!FLOW_ITEM.test(item)) unsupported();
  return { value: items.map(plainScalar), shadow: items };
}

function plainScalar(text: string): unknown {
  const kind = resolvePlain(text);
  if (kind === 'str') return text;
  // `<<` and `=` are not values to Ansible: the full reader says so.
  if (kind === 'merge' || kind === 'value') unsupported();
  return constructPlain(kind, text, unsupported);
}
