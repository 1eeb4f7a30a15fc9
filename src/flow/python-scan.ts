/**
 * A small, non-executing scan of Python source: finds top-level function definitions and the decorators above
 * them. It joins physical lines into logical ones (brackets, backslashes, triple-quoted strings) so multi-line
 * decorators such as `@flow(\n  name="x",\n)` are seen whole. It is not a Python parser and does not try to be.
 */

export interface PyFunction {
  name: string;
  async: boolean;
  /** 1-based line of the `def`. */
  line: number;
  /** Column-0 definition (a module attribute Prefect can load) rather than a method or nested function. */
  topLevel: boolean;
  /** Decorator expressions with strings blanked, without the leading `@`, e.g. `flow(log_prints=True)`. */
  decorators: string[];
  /** The string literals of each decorator, in order: what its blanked `""` stood for. */
  decoratorStrings: PyString[][];
}

/** A string literal as written: prefix (`r`, `f`…), body between the quotes, and whether it was triple-quoted. */
export interface PyString {
  prefix: string;
  body: string;
  triple: boolean;
}

export interface PyScan {
  functions: PyFunction[];
  /** Names by which `prefect.flow` is reachable: `flow` (from prefect import flow), `pf.flow` (import prefect as pf) … */
  flowNames: Set<string>;
}

interface LogicalLine {
  line: number;
  indent: number;
  text: string;
  /** The literals blanked to `""` in text, in order. */
  strings: PyString[];
}

/** Splits source into logical lines; strings become `""` and comments vanish, so brackets in them don't count. */
export function logicalLines(source: string): LogicalLine[] {
  const out: LogicalLine[] = [];
  const src = source.replace(/\r\n?/g, '\n');
  let i = 0;
  let line = 1;
  let depth = 0;
  let buf = '';
  let strings: PyString[] = [];
  let start = 1;
  let indent = 0;
  let atLineStart = true;
  const flush = () => {
    if (buf.trim() !== '') out.push({ line: start, indent, text: buf.trim(), strings });
    buf = '';
    strings = [];
  };
  while (i < src.length) {
    const c = src[i] as string;
    if (atLineStart) {
      // Indentation of a logical line is that of its first physical line.
      let j = i;
      let col = 0;
      while (src[j] === ' ' || src[j] === '\t') {
        col += src[j] === '\t' ? 8 - (col % 8) : 1;
        j++;
      }
      indent = col;
      start = line;
      atLineStart = false;
      i = j;
      continue;
    }
    if (c === '#') {
      while (i < src.length && src[i] !== '\n') i++;
      continue;
    }
    if (c === '\\' && src[i + 1] === '\n') {
      i += 2;
      line++;
      buf += ' ';
      continue;
    }
    if (c === '\n') {
      i++;
      line++;
      if (depth > 0) {
        buf += ' ';
        continue;
      }
      flush();
      atLineStart = true;
      continue;
    }
    const quote = stringStart(src, i);
    if (quote) {
      const literalStart = i;
      i = quote.bodyStart;
      const q = quote.delim;
      while (i < src.length && !src.startsWith(q, i)) {
        // Even in a raw string a backslash keeps the next quote from ending it.
        if (src[i] === '\\') i++;
        if (src[i] === '\n') line++;
        i++;
      }
      strings.push({ prefix: src.slice(literalStart, quote.bodyStart - q.length), body: src.slice(quote.bodyStart, i), triple: q.length === 3 });
      i += q.length;
      buf += '""';
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if ((c === ')' || c === ']' || c === '}') && depth > 0) depth--;
    buf += c;
    i++;
  }
  flush();
  return out;
}

/** A string literal starting at i (with any r/b/u/f prefix), or undefined. */
function stringStart(src: string, i: number): { delim: string; bodyStart: number } | undefined {
  // A prefix only counts at the start of a token, not inside a name like `bar"…"`.
  const prev = i > 0 ? (src[i - 1] as string) : ' ';
  if (/[A-Za-z0-9_]/.test(prev)) return undefined;
  const m = /^([rRbBuUfF]{0,2})('''|"""|'|")/.exec(src.slice(i, i + 5));
  if (!m) return undefined;
  return { delim: m[2] as string, bodyStart: i + m[0].length };
}

const DEF = /^(async\s+)?def\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(/;

export function scanPython(source: string): PyScan {
  const functions: PyFunction[] = [];
  const flowNames = new Set<string>();
  let decorators: { indent: number; text: string; strings: PyString[] }[] = [];
  for (const l of logicalLines(source)) {
    if (l.indent === 0) collectImports(l.text, flowNames);
    if (l.text.startsWith('@')) {
      decorators.push({ indent: l.indent, text: l.text.slice(1).trim(), strings: l.strings });
      continue;
    }
    const m = DEF.exec(l.text);
    if (m) {
      functions.push({
        name: m[2] as string,
        async: m[1] !== undefined,
        line: l.line,
        topLevel: l.indent === 0,
        decorators: decorators.filter((d) => d.indent === l.indent).map((d) => d.text),
        decoratorStrings: decorators.filter((d) => d.indent === l.indent).map((d) => d.strings),
      });
    }
    decorators = [];
  }
  return { functions, flowNames };
}

/** Records the names under which `prefect.flow` is imported. */
function collectImports(text: string, names: Set<string>): void {
  let m = /^from\s+prefect\s+import\s+(.+)$/.exec(text);
  if (m) {
    for (const part of (m[1] as string).replace(/[()]/g, '').split(',')) {
      const im = /^\s*flow(?:\s+as\s+([A-Za-z_][A-Za-z0-9_]*))?\s*$/.exec(part);
      if (im) names.add(im[1] ?? 'flow');
    }
    return;
  }
  m = /^import\s+(.+)$/.exec(text);
  if (m) {
    for (const part of (m[1] as string).split(',')) {
      const im = /^\s*prefect(?:\s+as\s+([A-Za-z_][A-Za-z0-9_]*))?\s*$/.exec(part);
      if (im) names.add(`${im[1] ?? 'prefect'}.flow`);
    }
  }
}

/**
 * True when a decorator expression is Prefect's flow decorator: `flow`, `flow(...)`, `prefect.flow(...)`, or an
 * alias from the file's imports. `flow` and `prefect.flow` are accepted even without a matching import (the
 * import may be indirect); a name that only looks similar (`my_flow`, `flow.with_options`) is not.
 */
export function isFlowDecorator(expr: string, flowNames: ReadonlySet<string>): boolean {
  const m = /^([A-Za-z_][A-Za-z0-9_]*(?:\s*\.\s*[A-Za-z_][A-Za-z0-9_]*)*)\s*(\(.*\))?$/.exec(expr.trim());
  if (!m) return false;
  const name = (m[1] as string).replace(/\s+/g, '');
  return name === 'flow' || name === 'prefect.flow' || flowNames.has(name);
}


/**
 * The name a flow decorator gives its flow: `@flow(name="Holography Main Flow")` → that string; no `name=` →
 * Prefect's default, the function's name with `_` turned into `-`. `undefined` when the name is an expression this
 * scan cannot evaluate (a variable, an f-string, a literal with escapes or implicit concatenation).
 */
export function flowNameOf(decorator: string, strings: readonly PyString[], functionName: string): string | undefined {
  const open = decorator.indexOf('(');
  if (open < 0) return functionName.replace(/_/g, '-');
  let depth = 0;
  let literal = 0;
  for (let i = open; i < decorator.length; i++) {
    if (decorator.startsWith('""', i)) {
      literal++;
      i++;
      continue;
    }
    const c = decorator[i] as string;
    if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (depth === 1 && /[(,\s]/.test(decorator[i - 1] as string)) {
      const kw = /^name\s*=(?!=)\s*/.exec(decorator.slice(i));
      if (!kw) continue;
      const value = /^""\s*(,|\)\s*$)/.exec(decorator.slice(i + kw[0].length));
      const s = strings[literal];
      if (!value || !s || s.triple || !/^[uUrR]?$/.test(s.prefix) || (!/[rR]/.test(s.prefix) && s.body.includes('\\'))) return undefined;
      return s.body;
    }
  }
  return functionName.replace(/_/g, '-');
}
