/**
 * YAML 1.1 plain-scalar resolution exactly as Ansible's loader does it: PyYAML's implicit resolvers
 * (lib/yaml/resolver.py) and SafeConstructor's int/float constructors (lib/yaml/constructor.py), which
 * Ansible's AnsibleLoader uses unchanged. Differentially tested against PyYAML (test/unit/config/yaml11.test.ts).
 *
 * Numbers keep every digit: integers as bigint, floats as Python computes them, each with the text that
 * writes them back so PyYAML reads the same value and type (`YamlNumber`).
 */

/** PyYAML's implicit resolvers, in the order it tries them (first match wins; `re.X` whitespace removed). */
export const PYYAML_BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
export const PYYAML_FLOAT =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
export const PYYAML_INT = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
export const PYYAML_MERGE = /^(?:<<)$/;
export const PYYAML_NULL = /^(?:~|null|Null|NULL|)$/;
export const PYYAML_TIMESTAMP =
  /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/;
export const PYYAML_VALUE = /^(?:=)$/;

export type PlainKind = 'null' | 'bool' | 'int' | 'float' | 'timestamp' | 'merge' | 'value' | 'str';

/**
 * Which tag PyYAML gives a plain scalar. Its resolvers are indexed by first character: a resolver only applies
 * when the scalar starts with one of its first characters (the empty scalar: null only).
 */
export function resolvePlain(text: string): PlainKind {
  if (text === '') return 'null';
  const first = text[0] as string;
  if ('yYnNtTfFoO'.includes(first) && PYYAML_BOOL.test(text)) return 'bool';
  if ('-+0123456789.'.includes(first) && PYYAML_FLOAT.test(text)) return 'float';
  if ('-+0123456789'.includes(first) && PYYAML_INT.test(text)) return 'int';
  if (first === '<' && PYYAML_MERGE.test(text)) return 'merge';
  if ('~nN'.includes(first) && PYYAML_NULL.test(text)) return 'null';
  if ('0123456789'.includes(first) && PYYAML_TIMESTAMP.test(text)) return 'timestamp';
  if (first === '=' && PYYAML_VALUE.test(text)) return 'value';
  return 'str';
}

/** construct_yaml_bool */
export function constructBool(text: string): boolean | undefined {
  const v = text.toLowerCase();
  if (v === 'yes' || v === 'true' || v === 'on') return true;
  if (v === 'no' || v === 'false' || v === 'off') return false;
  return undefined;
}

/** construct_yaml_int; undefined where Python's int() raises (`0b_`, `0x_`: the regex allows them, int() does not). */
export function constructInt(text: string): bigint | undefined {
  let value = text.replace(/_/g, '');
  let sign = 1n;
  if (value[0] === '-') sign = -1n;
  if (value[0] === '+' || value[0] === '-') value = value.slice(1);
  const parse = (digits: string, pattern: RegExp, prefix: string): bigint | undefined =>
    pattern.test(digits) ? sign * BigInt(`${prefix}${digits}`) : undefined;
  if (value === '0') return 0n;
  if (value.startsWith('0b')) return parse(value.slice(2), /^[01]+$/, '0b');
  if (value.startsWith('0x')) return parse(value.slice(2), /^[0-9a-fA-F]+$/, '0x');
  if (value.startsWith('0')) return parse(value, /^[0-7]+$/, '0o');
  if (value.includes(':')) {
    let result = 0n;
    let base = 1n;
    for (const part of value.split(':').reverse()) {
      if (!/^[0-9]+$/.test(part)) return undefined;
      result += BigInt(part) * base;
      base *= 60n;
    }
    return sign * result;
  }
  return /^[0-9]+$/.test(value) ? sign * BigInt(value) : undefined;
}

/** construct_yaml_float (Python's float() and JS's Number() both round correctly, so the doubles agree). */
export function constructFloat(text: string): number | undefined {
  let value = text.replace(/_/g, '').toLowerCase();
  let sign = 1;
  if (value[0] === '-') sign = -1;
  if (value[0] === '+' || value[0] === '-') value = value.slice(1);
  if (value === '.inf') return sign * Infinity;
  if (value === '.nan') return NaN;
  const pyFloat = (s: string): number | undefined => (/^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[-+]?[0-9]+)?$/.test(s) ? Number(s) : undefined);
  if (value.includes(':')) {
    let result = 0;
    let base = 1;
    for (const part of value.split(':').reverse()) {
      const digit = pyFloat(part);
      if (digit === undefined) return undefined;
      result += digit * base;
      base *= 60;
    }
    return sign * result;
  }
  const parsed = pyFloat(value);
  return parsed === undefined ? undefined : sign * parsed;
}

/** Python's repr() of a float (format 'r': fixed notation for 1e-4 <= |x| < 1e16, else exponent with 2+ digits). */
export function pythonFloatRepr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const sign = value < 0 ? '-' : '';
  // Shortest round-trip digits, as both Python and JS compute them.
  const [mantissa, exp] = Math.abs(value).toExponential().split('e') as [string, string];
  const digits = mantissa.replace('.', '');
  const decpt = Number(exp) + 1; // value = 0.DIGITS × 10^decpt
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const e = decpt - 1;
  const body = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : (digits as string);
  return `${sign}${body}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** How PyYAML's representer writes a float so that PyYAML reads the same float back. */
export function yamlFloatText(value: number): string {
  if (Number.isNaN(value)) return '.nan';
  if (value === Infinity) return '.inf';
  if (value === -Infinity) return '-.inf';
  const repr = pythonFloatRepr(value).toLowerCase();
  return !repr.includes('.') && repr.includes('e') ? repr.replace('e', '.0e') : repr;
}

/**
 * A YAML number kept exactly: floats (which JS would otherwise write as integers: `1.0` → 1) and integers
 * beyond 2^53 (which JS would round). `valueOf` gives the nearest JS number for comparisons and checks.
 */
export class YamlNumber {
  constructor(
    readonly kind: 'int' | 'float',
    /** The scalar as written in the source (`1_000.50`), for messages. */
    readonly source: string,
    /** Exact value: bigint for integers, the double for floats. */
    readonly exact: bigint | number,
  ) {}

  /** What PyYAML reads back as the same type and value: decimal digits, or the representer's float text. */
  get yamlText(): string {
    return typeof this.exact === 'bigint' ? this.exact.toString() : yamlFloatText(this.exact);
  }

  /** Python's str(): what Ansible prints or templates for this value. */
  toString(): string {
    return typeof this.exact === 'bigint' ? this.exact.toString() : pythonFloatRepr(this.exact);
  }

  valueOf(): number {
    return Number(this.exact);
  }

  toJSON(): number {
    return Number(this.exact);
  }
}

/** An inline `!vault` value: the only thing that may be written back as vault data. */
export class VaultText {
  constructor(readonly ciphertext: string) {}
  toString(): string {
    return this.ciphertext;
  }
  toJSON(): string {
    return this.ciphertext;
  }
}

/** A short description of what a plain scalar resolved to, for messages ("the integer 8", "the boolean true"). */
export function describeResolved(kind: PlainKind, text: string): string {
  switch (kind) {
    case 'null':
      return 'null (nothing)';
    case 'bool':
      return `the boolean ${String(constructBool(text))}`;
    case 'int': {
      const v = constructInt(text);
      return v === undefined ? 'an invalid integer' : `the integer ${v.toString()}`;
    }
    case 'float': {
      const v = constructFloat(text);
      return v === undefined ? 'an invalid float' : `the float ${pythonFloatRepr(v)}`;
    }
    case 'timestamp':
      return 'a date';
    case 'merge':
      return 'a merge key (<<)';
    case 'value':
      return "YAML's value tag (=)";
    default:
      return 'a string';
  }
}

/**
 * Why a plain scalar that YAML 1.1 reads as a number or boolean is probably not what its author meant, or undefined.
 * (`010` is 8, `1:20` is 80, `3.10` is 3.1, `on` is true.)
 */
export function yaml11Trap(text: string): string | undefined {
  const kind = resolvePlain(text);
  if (kind === 'bool' && /^(?:on|On|ON|off|Off|OFF)$/.test(text)) return `YAML 1.1 reads ${text} as the boolean ${String(constructBool(text))}`;
  if (kind === 'int') {
    const v = constructInt(text);
    if (v !== undefined && !/^[-+]?[1-9][0-9_]*$/.test(text) && text.replace(/^[-+]/, '') !== v.toString().replace(/^-/, '')) {
      return `YAML 1.1 reads ${text} as the integer ${v.toString()}`;
    }
  }
  if (kind === 'float') {
    const v = constructFloat(text);
    if (v !== undefined && (text.includes(':') || (/\.[0-9_]*0$/.test(text) && pythonFloatRepr(v) !== text.replace(/^\+/, '')))) {
      return `YAML 1.1 reads ${text} as the float ${pythonFloatRepr(v)}`;
    }
  }
  if (kind === 'timestamp') return `YAML 1.1 reads ${text} as a date`;
  return undefined;
}

/** The double-quoted form that keeps a scalar's text as a string. */
export function quotedForm(text: string): string {
  return JSON.stringify(text);
}

/** construct_yaml_timestamp; undefined where Python's datetime refuses the date (`2001-13-45`). */
export function constructTimestamp(text: string): Date | undefined {
  const m = /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)?$/.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number) as number[];
  const daysInMonth = new Date(Date.UTC(year as number, month as number, 0)).getUTCDate();
  if (year! < 1 || month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth || hour! > 23 || minute! > 59 || second! > 59) return undefined;
  const ms = Number(`0.${(m[7] ?? '').slice(0, 6) || '0'}`) * 1000;
  let offsetMinutes = 0;
  if (m[9] !== undefined) {
    const hours = Number(m[10]);
    const minutes = Number(m[11] ?? '0');
    if (hours > 23 || minutes > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (hours * 60 + minutes);
  }
  const date = new Date(Date.UTC(year!, month! - 1, day!, hour!, minute!, second!, ms) - offsetMinutes * 60_000);
  date.setUTCFullYear(date.getUTCFullYear()); // years < 100 stay as written
  return date;
}

/**
 * The value of a plain scalar of kind `kind` (resolvePlain) as Ansible reads it: integers that JS numbers hold
 * exactly stay numbers, larger ones and every float keep their digits in a YamlNumber. A scalar Ansible cannot read
 * (`0b_`, `2001-13-45`) is reported through `onError` and kept as its text. Shared by both YAML readers.
 */
export function constructPlain(kind: 'null' | 'bool' | 'int' | 'float' | 'timestamp', text: string, onError: (message: string) => void): unknown {
  switch (kind) {
    case 'null':
      return null;
    case 'bool': {
      const value = constructBool(text);
      if (value === undefined) onError(`${JSON.stringify(text)} is not a YAML boolean`);
      return value ?? text;
    }
    case 'int': {
      const value = constructInt(text);
      if (value === undefined) {
        onError(`${JSON.stringify(text)} looks like an integer to YAML 1.1 but is not a valid one (Ansible cannot read it); put it in quotes`);
        return text;
      }
      const n = Number(value);
      return Number.isSafeInteger(n) ? n : new YamlNumber('int', text, value);
    }
    case 'float': {
      const value = constructFloat(text);
      if (value === undefined) {
        onError(`${JSON.stringify(text)} is not a valid float (Ansible cannot read it); put it in quotes`);
        return text;
      }
      return new YamlNumber('float', text, value);
    }
    case 'timestamp': {
      const date = constructTimestamp(text);
      if (!date) onError(`${JSON.stringify(text)} looks like a date to YAML 1.1 but is not a valid one (Ansible cannot read it); put it in quotes`);
      return date ?? text;
    }
  }
}
