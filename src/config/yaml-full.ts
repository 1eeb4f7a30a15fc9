/**
 * The full reader (the `yaml` library, YAML 1.1 as PyYAML reads it): any YAML, with every problem as a diagnostic and
 * every node's position. Loaded only for a file the simple reader (yaml-simple.ts) does not take, so most commands
 * never load the library. Use it through parseYamlSource (yaml-source.ts).
 */
import {
  Document,
  LineCounter,
  Pair,
  Scalar,
  YAMLMap,
  YAMLSeq,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  visit,
  type Node,
  type ScalarTag,
  type CollectionTag,
  type Tags,
} from 'yaml';
import type { Diagnostic } from './diagnostics.js';
import type { PathSegment, Position, YamlSource } from './yaml-types.js';
import { VaultText, constructPlain, describeResolved, resolvePlain, type PlainKind } from './yaml11.js';

/** The `!unsafe` tag only tells Ansible not to template a value; for us the value is the plain string/collection. */
const unsafeScalar: ScalarTag = { tag: '!unsafe', resolve: (text) => text };
const unsafeMap: CollectionTag = { tag: '!unsafe', collection: 'map', nodeClass: YAMLMap };
const unsafeSeq: CollectionTag = { tag: '!unsafe', collection: 'seq', nodeClass: YAMLSeq };
/** Inline vault values stay opaque (the encrypted text); callers decide whether that is acceptable where it occurs. */
const vaultScalar: ScalarTag = { tag: '!vault', resolve: (text) => new VaultText(text) as unknown as string };

const VAULT_TAG = '!vault';

const INT = 'tag:yaml.org,2002:int';
const FLOAT = 'tag:yaml.org,2002:float';

/**
 * PyYAML's implicit resolvers (see yaml11.ts), replacing the library's YAML 1.1 schema, which differs from PyYAML
 * in many places (`08`, `0:3`, `y`, `1e3`, …). Explicit standard tags (`!!int 8`) use the same constructors.
 */
function pyYamlTags(libraryTags: Tags): Tags {
  const keep = (name: string) => libraryTags.filter((t) => typeof t === 'object' && t.tag === name);
  const merge = keep('tag:yaml.org,2002:merge');
  // The library tries each implicit tag's test in turn on the same text: resolve it once, not once per tag.
  let lastText: string | undefined;
  let lastKind: PlainKind = 'str';
  const kindOf = (text: string): PlainKind => {
    if (text !== lastText) {
      lastKind = resolvePlain(text);
      lastText = text;
    }
    return lastKind;
  };
  const implicit = (tag: string, kind: PlainKind, resolve: ScalarTag['resolve']): ScalarTag => ({
    tag,
    default: true,
    test: { test: (text: string) => kindOf(text) === kind } as unknown as RegExp,
    resolve,
  });
  const explicit = (tag: string, resolve: ScalarTag['resolve']): ScalarTag => ({ tag, resolve });
  // The same constructors as the simple reader's (yaml11.ts), for implicit and explicit tags alike.
  const construct = (kind: 'bool' | 'int' | 'float' | 'timestamp') => (text: string, onError: (message: string) => void) => constructPlain(kind, text, onError);
  const [bool, intValue, floatValue, timestamp] = [construct('bool'), construct('int'), construct('float'), construct('timestamp')];
  const unreadable = (text: string, onError: (message: string) => void) => {
    onError(`a plain ${text} is ${describeResolved(resolvePlain(text), text)} to YAML 1.1, which Ansible cannot read as a value; write ${JSON.stringify(text)}`);
    return text;
  };
  return [
    ...keep('tag:yaml.org,2002:map'),
    ...keep('tag:yaml.org,2002:seq'),
    ...keep('tag:yaml.org,2002:str'),
    ...merge,
    implicit('tag:yaml.org,2002:null', 'null', () => null),
    implicit('tag:yaml.org,2002:bool', 'bool', bool),
    implicit(INT, 'int', intValue),
    implicit(FLOAT, 'float', floatValue),
    implicit('tag:yaml.org,2002:timestamp', 'timestamp', timestamp),
    implicit('tag:pag-ansible,unreadable:merge', 'merge', unreadable),
    implicit('tag:pag-ansible,unreadable:value', 'value', unreadable),
    explicit('tag:yaml.org,2002:null', () => null),
    explicit('tag:yaml.org,2002:bool', bool),
    explicit(INT, intValue),
    explicit(FLOAT, floatValue),
    explicit('tag:yaml.org,2002:timestamp', timestamp),
    unsafeScalar,
    unsafeMap,
    unsafeSeq,
    vaultScalar,
  ];
}

const START: Position = { line: 1, col: 1 };
const MAX_SYNTAX_ERRORS = 5;

/** The full reader: any YAML, with every problem as a diagnostic and every node's position. */
export function parseFully(text: string, displayPath: string): YamlSource {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    version: '1.1',
    lineCounter,
    customTags: pyYamlTags,
    // The library's own check compares every key with every other one (quadratic: seconds on 2,000 hosts).
    uniqueKeys: false,
    prettyErrors: true,
    // Collection keys are reported as diagnostics (key-not-string); the library's console warning would only leak.
    logLevel: 'error',
    // YAML 1.1 merge keys (`<<: *defaults`), which Ansible inventories may use.
    merge: true,
  });

  const diagnostics: Diagnostic[] = [];
  // After the first few, syntax errors are mostly echoes of the first one (and a pathological file has thousands).
  const seen = new Set<string>();
  for (const problem of doc.errors.slice(0, MAX_SYNTAX_ERRORS)) {
    const diagnostic = unclosedAtOpening(doc, problem, text, lineCounter, displayPath) ?? yamlProblemToDiagnostic(problem, 'error', text, displayPath);
    const key = `${diagnostic.line}:${diagnostic.col}:${diagnostic.message}`;
    if (!seen.has(key)) diagnostics.push(diagnostic);
    seen.add(key);
  }
  for (const problem of doc.warnings) {
    // PyYAML refuses tags it has no constructor for, so an unknown tag is an error for Ansible too.
    const severity = problem.code === 'TAG_RESOLVE_FAILED' ? 'error' : 'warning';
    diagnostics.push(yamlProblemToDiagnostic(problem, severity, text, displayPath));
  }

  if (doc.errors.length === 0) {
    // Anchors start with '&' and aliases with '*': a file with neither has none to check (most inventories).
    const anchors = text.includes('&') || text.includes('*') ? findUnreadableAnchors(doc) : [];
    for (const { node, name } of anchors) {
      diagnostics.push({
        file: displayPath,
        ...lineCounter.linePos(node.range?.[0] ?? 0),
        severity: 'error',
        rule: 'yaml-syntax',
        message: `YAML syntax: the anchor or alias name ${JSON.stringify(name)} has characters Ansible's YAML parser refuses (only letters, digits, '-' and '_'); rename it, or quote the value if it is text`,
      });
    }
    for (const duplicate of findDuplicateKeys(doc)) {
      const offset = duplicate.range?.[0] ?? 0;
      diagnostics.push(
        yamlProblemToDiagnostic({ code: 'DUPLICATE_KEY', message: '', pos: [offset, offset], linePos: [lineCounter.linePos(offset)] }, 'error', text, displayPath),
      );
    }
    const separator = LINE_SEPARATOR.test(text) ? lineSeparatorInComment(doc, text) : undefined;
    if (separator !== undefined) {
      const name = `U+${(text.codePointAt(separator) as number).toString(16).toUpperCase().padStart(4, '0')}`;
      diagnostics.push({
        file: displayPath,
        ...lineCounter.linePos(separator),
        severity: 'error',
        rule: 'yaml-syntax',
        message: `YAML syntax: an invisible line separator (${name}) in a comment; Ansible's YAML reads it as a line break, so the rest of the comment is read as YAML (keys, hosts, values); remove it`,
      });
    }
  }

  let data: unknown;
  if (!diagnostics.some((d) => d.severity === 'error')) {
    try {
      // The alias limit guards against alias bombs; PyYAML has none, but no real inventory comes close.
      data = doc.toJS({ maxAliasCount: 1000 });
      const problem = structureProblem(data, 0, new Set());
      if (problem) throw new Error(problem);
    } catch (e) {
      // Alias bombs, recursive aliases and absurd nesting are reported instead of overflowing a validator's stack.
      data = undefined;
      diagnostics.push({ file: displayPath, ...START, severity: 'error', rule: 'yaml-syntax', message: `cannot read the YAML: ${(e as Error).message}` });
    }
  }

  // Reported after reading the data: the schema and the other rules still run (they see the key as text).
  if (doc.errors.length === 0) {
    for (const key of findNonStringKeys(doc)) {
      const offset = key.range?.[0] ?? 0;
      const text = isScalar(key) && typeof key.source === 'string' ? key.source : undefined;
      const what = text === undefined ? 'a collection' : describeResolved(resolvePlain(text), text);
      diagnostics.push({
        file: displayPath,
        ...lineCounter.linePos(offset),
        severity: 'error',
        rule: 'key-not-string',
        message:
          text === undefined
            ? 'this key is a collection; keys (host, group, pool and variable names) must be plain names'
            : `the key ${text} is ${what} to YAML 1.1 (Ansible reads it so), but keys here are names; write ${JSON.stringify(text)}`,
      });
    }
  }

  const locator = new NodeLocator(doc, lineCounter);
  let vaultPathsCache: PathSegment[][] | undefined;
  return {
    displayPath,
    data,
    diagnostics,
    positionOf: (path, part = 'value') => locator.positionOf(path, part),
    isVault: (path) => locator.isVault(path),
    vaultPaths: () => (vaultPathsCache ??= text.includes(VAULT_TAG) ? findVaultPaths(doc) : []),
    plainTextOf: (path) => locator.plainTextOf(path),
  };
}

/** Far deeper than any inventory needs (group nesting included), far shallower than any stack limit. */
const MAX_DEPTH = 64;

function structureProblem(value: unknown, depth: number, ancestors: Set<unknown>): string | undefined {
  if (value === null || typeof value !== 'object' || value instanceof Date) return undefined;
  if (ancestors.has(value)) return 'a recursive alias (an anchor used inside itself)';
  if (depth > MAX_DEPTH) return `nesting deeper than ${MAX_DEPTH} levels`;
  ancestors.add(value);
  for (const child of Array.isArray(value) ? value : Object.values(value)) {
    const problem = structureProblem(child, depth + 1, ancestors);
    if (problem) return problem;
  }
  ancestors.delete(value);
  return undefined;
}

interface YamlProblem {
  code: string;
  message: string;
  pos: [number, number];
  linePos?: [Position] | [Position, Position];
}

function yamlProblemToDiagnostic(problem: YamlProblem, severity: Diagnostic['severity'], text: string, file: string): Diagnostic {
  const pos = problem.linePos?.[0] ?? START;
  // The library appends " at line L, column C:" and a code frame; the position is reported separately.
  const summary = (problem.message.split('\n')[0] ?? problem.message).replace(/ at line \d+, column \d+:?$/, '');
  if (problem.code === 'DUPLICATE_KEY') {
    const key = keyAt(text, problem.pos[0]);
    return {
      file,
      ...pos,
      severity,
      rule: 'duplicate-key',
      message: `duplicate key ${JSON.stringify(key)}: Ansible would silently keep only the last one; remove or rename one of them`,
    };
  }
  if (problem.code === 'TAG_RESOLVE_FAILED') {
    return { file, ...pos, severity, rule: 'yaml-tag', message: `${summary}; only !unsafe and !vault are understood` };
  }
  return { file, ...pos, severity, rule: 'yaml-syntax', message: `YAML syntax: ${summary}` };
}

/**
 * The parser notices an unclosed quote or bracket where the input ends or the next line starts, which is not
 * where the mistake is: point at the quote or bracket that was opened and never closed instead.
 */
function unclosedAtOpening(doc: Document, problem: YamlProblem, text: string, lineCounter: LineCounter, file: string): Diagnostic | undefined {
  const first = problem.message.split('\n')[0] ?? '';
  const quote = problem.code === 'MISSING_CHAR' ? /closing (["'])quote/.exec(first)?.[1] : undefined;
  const bracket = quote === undefined ? /end with an? ([\]}])/.exec(first)?.[1] : undefined;
  if (quote === undefined && bracket === undefined) return undefined;
  const at = problem.pos[0];
  let opening: { offset: number; what: string } | undefined;
  visit(doc, {
    Node(_, node) {
      const range = node.range;
      if (!range || range[0] >= at) return;
      const source = text.slice(range[0], range[1]).trimEnd();
      let what: string | undefined;
      if (quote !== undefined && isScalar(node) && node.type === (quote === '"' ? 'QUOTE_DOUBLE' : 'QUOTE_SINGLE')) {
        if (source.length < 2 || !source.endsWith(quote)) what = `the ${quote}quote opened here is never closed; add the closing ${quote}`;
      } else if (bracket === ']' && isSeq(node) && node.flow && !closedFlow(node, range[0] + source.length, ']', text)) {
        what = 'the [ opened here is never closed; add the closing ]';
      } else if (bracket === '}' && isMap(node) && node.flow && !closedFlow(node, range[0] + source.length, '}', text)) {
        what = 'the { opened here is never closed; add the closing }';
      }
      if (what !== undefined && (opening === undefined || range[0] > opening.offset)) opening = { offset: range[0], what };
    },
  });
  if (opening === undefined) return undefined;
  return { file, ...lineCounter.linePos(opening.offset), severity: 'error', rule: 'yaml-syntax', message: `YAML syntax: ${opening.what}` };
}

/** A flow collection is closed when its own bracket follows its last item (the item's own may end with one too). */
function closedFlow(node: YAMLSeq | YAMLMap, end: number, bracket: string, text: string): boolean {
  let lastItemEnd = (node.range?.[0] ?? 0) + 1;
  for (const item of node.items as unknown[]) {
    const itemNode = (isPair(item) ? ((item.value as Node | null) ?? (item.key as Node | null)) : item) as Node | null;
    lastItemEnd = Math.max(lastItemEnd, itemNode?.range?.[1] ?? 0);
  }
  return text[end - 1] === bracket && end - 1 >= lastItemEnd;
}

/** The plain key starting at `offset` (up to the colon), for duplicate-key messages. */
function keyAt(text: string, offset: number): string {
  const rest = text.slice(offset, offset + 200);
  const match = /^[^:\n]*/.exec(rest);
  return (match?.[0] ?? '').trim();
}

/** Finds nodes by JS path lazily; each map is indexed once on first visit so lookups stay O(1) on big inventories. */
class NodeLocator {
  private readonly mapIndex = new WeakMap<YAMLMap, Map<string, Pair>>();

  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  positionOf(path: readonly PathSegment[], part: 'key' | 'value'): Position {
    const { node, pair } = this.walk(path);
    // A key with an empty value (`prefect_user:`) has a zero-width value node: point at the key instead.
    const emptyValue = isScalar(node) && node.value === null && node.range?.[0] === node.range?.[1];
    const target = part === 'key' || emptyValue || !node ? (pair?.key as Node | undefined) ?? node : node;
    const offset = target?.range?.[0];
    return offset === undefined ? START : this.lineCounter.linePos(offset);
  }

  plainTextOf(path: readonly PathSegment[]): string | undefined {
    const { node, complete } = this.walk(path);
    if (!complete || !isScalar(node) || node.type !== 'PLAIN' || node.tag !== undefined && node.tag.startsWith('!') && !node.tag.startsWith('!!')) return undefined;
    return typeof node.source === 'string' ? node.source : undefined;
  }

  isVault(path: readonly PathSegment[]): boolean {
    const { node, complete } = this.walk(path);
    return complete && isScalar(node) && node.tag === VAULT_TAG;
  }

  /** Walks as far as the path exists; `pair` is the pair holding the deepest node found (for key positions). */
  private walk(path: readonly PathSegment[]): { node: Node | undefined; pair: Pair | undefined; complete: boolean } {
    let node = this.resolve(this.doc.contents as Node | null);
    let pair: Pair | undefined;
    for (const segment of path) {
      if (isMap(node)) {
        const found = this.pairOf(node, String(segment));
        if (!found) return { node, pair, complete: false };
        pair = found;
        node = this.resolve(found.value as Node | null) ?? undefined;
        if (!node) return { node: found.key as Node, pair, complete: false };
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = this.resolve(node.items[segment] as Node | null);
        if (!item) return { node, pair, complete: false };
        pair = undefined;
        node = item;
      } else {
        return { node, pair, complete: false };
      }
    }
    return { node, pair, complete: true };
  }

  private resolve(node: Node | null | undefined): Node | undefined {
    if (!node) return undefined;
    return isAlias(node) ? (node.resolve(this.doc) as Node | undefined) : node;
  }

  private pairOf(map: YAMLMap, key: string): Pair | undefined {
    let index = this.mapIndex.get(map);
    if (!index) {
      index = new Map();
      for (const item of map.items) {
        if (!isPair(item)) continue;
        const keyNode = item.key;
        // With `merge: true` the library marks merge keys with a symbol value; its source is still `<<`.
        if (isScalar(keyNode) && (keyNode.source === '<<' || keyNode.value === '<<')) {
          // Merge keys: the merged map's pairs are reachable under this map's path, without overriding own keys.
          for (const source of mergeSources(this.resolve(item.value as Node | null), (n) => this.resolve(n))) {
            for (const merged of source.items) {
              if (isPair(merged)) {
                const k = jsKey(merged.key);
                if (!index.has(k)) index.set(k, merged as Pair);
              }
            }
          }
          continue;
        }
        index.set(jsKey(keyNode), item as Pair);
      }
      this.mapIndex.set(map, index);
    }
    return index.get(key);
  }
}

function mergeSources(node: Node | undefined, resolve: (n: Node | null) => Node | undefined): YAMLMap[] {
  if (isMap(node)) return [node];
  if (isSeq(node)) return node.items.map((n) => resolve(n as Node)).filter((n): n is YAMLMap => isMap(n));
  return [];
}

/** The key as `toJS` spells it, so JS paths and nodes agree (`8080:` → "8080", `yes:` → "true"). */
function jsKey(key: unknown): string {
  if (isScalar(key)) return String((key as Scalar).value);
  if (key === null || key === undefined) return '';
  return String(key);
}

/** NEL, LS and PS: line breaks to PyYAML and libyaml (in comments too); the yaml library reads them as text. */
const LINE_SEPARATOR = /[\u0085\u2028\u2029]/;

/**
 * The offset of the first NEL, LS or PS outside every scalar: in a comment, where the yaml library skips it and
 * PyYAML starts a new line. One inside a key or value is the name and value rules' to report (they say which).
 */
function lineSeparatorInComment(doc: Document, text: string): number | undefined {
  const scalars: [number, number][] = [];
  visit(doc, {
    Scalar(_, node) {
      if (node.range) scalars.push([node.range[0], node.range[1]]);
    },
  });
  const all = new RegExp(LINE_SEPARATOR.source, 'g');
  for (let m = all.exec(text); m !== null; m = all.exec(text)) {
    const at = m.index;
    if (!scalars.some(([start, end]) => at >= start && at < end)) return at;
  }
  return undefined;
}

/** PyYAML's scanner reads anchor and alias names of ASCII letters, digits, '-' and '_' only (the library allows more). */
const PYYAML_ANCHOR = /^[0-9A-Za-z_-]+$/;

function findUnreadableAnchors(doc: Document): { node: Node; name: string }[] {
  const found: { node: Node; name: string }[] = [];
  visit(doc, {
    Node(_, node) {
      if (isAlias(node)) {
        if (!PYYAML_ANCHOR.test(node.source)) found.push({ node, name: node.source });
      } else if (node.anchor !== undefined && !PYYAML_ANCHOR.test(node.anchor)) {
        found.push({ node, name: node.anchor });
      }
    },
  });
  return found;
}

/** Keys that YAML 1.1 reads as something other than a string (`001:`, `yes:`, `1.5:`), merge keys aside. */
function findNonStringKeys(doc: Document): Node[] {
  const found: Node[] = [];
  visit(doc, {
    Pair(_, pair) {
      const key = pair.key as Node | null;
      if (key === null) return;
      if (isScalar(key)) {
        if (key.source === '<<' && key.type === 'PLAIN') return;
        if (typeof key.value === 'string') return;
      }
      found.push(key);
    },
  });
  return found;
}

/** Second and later occurrences of a key in the same mapping, in one linear pass over the document. */
function findDuplicateKeys(doc: Document): Node[] {
  const duplicates: Node[] = [];
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        const key = pair.key as Node | null;
        // Merge keys may repeat; a merge's own keys are checked where the merged map is defined.
        if (!(isScalar(key) && key.source === '<<')) {
          const name = jsKey(key);
          if (seen.has(name)) duplicates.push(key as Node);
          else seen.add(name);
        }
        stack.push(pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    }
  }
  return duplicates.sort((a, b) => (a.range?.[0] ?? 0) - (b.range?.[0] ?? 0));
}

function findVaultPaths(doc: Document): PathSegment[][] {
  const found: PathSegment[][] = [];
  visit(doc, {
    Scalar(key, node, path) {
      if (node.tag !== VAULT_TAG || key === 'key') return;
      const segments: PathSegment[] = [];
      let previous: unknown = node;
      // `path` lists ancestors (Document, collections, pairs); rebuild the JS path from pair keys and seq indexes.
      for (let i = path.length - 1; i >= 0; i--) {
        const ancestor = path[i];
        if (isPair(ancestor)) segments.unshift(jsKey(ancestor.key));
        else if (isSeq(ancestor)) segments.unshift(ancestor.items.indexOf(previous as never));
        previous = ancestor;
      }
      found.push(segments);
    },
  });
  return found;
}
