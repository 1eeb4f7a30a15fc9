/**
 * JSON-Schema validation of the parsed files, and the translation of ajv's errors into diagnostics that name the
 * key, say what is expected, and point at the YAML node concerned.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Ajv, ErrorObject, Options, ValidateFunction } from 'ajv';
import { schemasDir } from '../util/package-root.js';
import type { Diagnostic } from './diagnostics.js';
import { didYouMean } from './suggest.js';
import type { PathSegment, YamlSource } from './yaml-source.js';
import { VaultText, YamlNumber, describeResolved, resolvePlain } from './yaml11.js';

export type SchemaKind = 'inventory' | 'secrets';

interface SchemaNode {
  type?: string | string[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  description?: string;
  properties?: Record<string, SchemaNode>;
  patternProperties?: Record<string, SchemaNode>;
  enum?: unknown[];
  $ref?: string;
}

interface CompiledSchema {
  validate: ValidateFunction;
  definitions: Record<string, SchemaNode>;
}

// Compiling costs a hundred milliseconds and loading ajv's compiler more: the build writes each validator as code
// (ajv's standalone output, see scripts/build-dist.mjs) into dist/validators/<kind>.cjs. When
// that file is missing (running from src/) or was made from another version of the schema, the schema is
// compiled here instead, once per process and only when a file is validated; both give the same errors.
const compiled = new Map<SchemaKind, CompiledSchema>();
let ajv: Ajv | undefined;
const require = createRequire(import.meta.url);

export const AJV_OPTIONS: Options = { allErrors: true, verbose: true, strict: true, allowUnionTypes: true, allowMatchingProperties: true };

/** Where the build writes the precompiled validator of a schema: validators/ beside config/ (and bundled/) in dist/. */
export const validatorModulePath = (kind: SchemaKind) => path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'validators', `${kind}.cjs`);

/** What a precompiled validator module exports: the schema text it was made from, and the validator. */
interface ValidatorModule {
  schemaText: string;
  validate: ValidateFunction;
}

function readSchema(kind: SchemaKind): { text: string; schema: { definitions?: Record<string, SchemaNode> } } {
  const text = readFileSync(path.join(schemasDir, `${kind}.schema.json`), 'utf8');
  return { text, schema: JSON.parse(text) as { definitions?: Record<string, SchemaNode> } };
}

function compileValidator(schema: object): ValidateFunction {
  if (!ajv) {
    const { Ajv: AjvClass } = require('ajv') as typeof import('ajv');
    ajv = new AjvClass({ ...AJV_OPTIONS });
  }
  return ajv.compile(schema);
}

function precompiled(kind: SchemaKind, schemaText: string): ValidateFunction | undefined {
  let mod: ValidatorModule;
  try {
    mod = require(validatorModulePath(kind)) as ValidatorModule;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return undefined;
    throw e;
  }
  return mod.schemaText === schemaText ? mod.validate : undefined;
}

function schemaFor(kind: SchemaKind): CompiledSchema {
  let entry = compiled.get(kind);
  if (!entry) {
    const { text, schema } = readSchema(kind);
    entry = { validate: precompiled(kind, text) ?? compileValidator(schema), definitions: schema.definitions ?? {} };
    compiled.set(kind, entry);
  }
  return entry;
}

/** The source of a CommonJS module exporting the validator of KIND as ajv's standalone code (for the build). */
export function standaloneValidatorModule(kind: SchemaKind): string {
  const { text, schema } = readSchema(kind);
  const { Ajv: AjvClass } = require('ajv') as typeof import('ajv');
  const standaloneCode = (require('ajv/dist/standalone/index.js') as typeof import('ajv/dist/standalone/index.js')).default;
  const builder = new AjvClass({ ...AJV_OPTIONS, code: { source: true } });
  const code = standaloneCode(builder, builder.compile(schema));
  return `${code}\nmodule.exports.validate = module.exports.default;\nmodule.exports.schemaText = ${JSON.stringify(text)};\n`;
}

/** Cluster-wide keys: allowed only in all.vars, so a misplaced one gets a hint rather than a bare "unknown key". */
export const CLUSTER_KEYS = [
  'prefect_version',
  'prefect_user',
  'prefect_install_dir',
  'prefect_home',
  'prefect_flows_dir',
  'prefect_environment',
  'prefect_api',
  'prefect_database',
  'prefect_redis',
  'prefect_work_pools',
  'prefect_worker_healthcheck',
  'prefect_analytics_enabled',
  'prefect_server_settings',
];
const SECRET_KEYS = ['prefect_api_auth_string', 'prefect_database_password', 'prefect_redis_password'];

/** Characters PyYAML or Ansible cannot carry safely in a string (see STYLE.md, "Rendering Ansible safely"). */
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHAR = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function validateAgainstSchema(kind: SchemaKind, source: YamlSource): Diagnostic[] {
  const { validate, definitions } = schemaFor(kind);
  if (validate(plainData(source.data))) return [];
  const mapper = new ErrorMapper(kind, source, definitions);
  const errors = validate.errors ?? [];
  const diagnostics: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    const diagnostic = mapper.toDiagnostic(error);
    if (!diagnostic) continue;
    const key = `${diagnostic.line}:${diagnostic.col}:${diagnostic.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    diagnostics.push(diagnostic);
  }
  return diagnostics;
}

class ErrorMapper {
  constructor(
    private readonly kind: SchemaKind,
    private readonly source: YamlSource,
    private readonly definitions: Record<string, SchemaNode>,
  ) {}

  toDiagnostic(error: ErrorObject): Diagnostic | undefined {
    // `if` only says a branch failed (its own errors are reported); `propertyNames` wraps the pattern error.
    if (error.keyword === 'if' || error.keyword === 'propertyNames' || error.keyword === 'const') return undefined;
    const objectPath = this.decodePath(error.instancePath);
    // Inline vault values are opaque: the encrypted text never matches what the schema expects of the plaintext.
    if (this.isInsideVault(objectPath)) return undefined;
    const parentSchema = (error.parentSchema ?? {}) as SchemaNode;

    switch (error.keyword) {
      case 'additionalProperties': {
        const key = String((error.params as { additionalProperty: string }).additionalProperty);
        const keyPath = [...objectPath, key];
        if (this.source.isVault(keyPath)) return undefined;
        return this.at(keyPath, 'key', 'unknown-key', this.unknownKeyMessage(key, objectPath, parentSchema, error.data));
      }
      case 'required': {
        const missing = String((error.params as { missingProperty: string }).missingProperty);
        const description = this.describeProperty(parentSchema, missing);
        const message = `${this.label([...objectPath, missing])} is required${description ? ` (${description})` : ''}`;
        return this.at(objectPath, 'key', 'schema', message);
      }
      case 'pattern':
        if (error.propertyName !== undefined) return this.badName(objectPath, error.propertyName, parentSchema);
        return this.at(objectPath, 'value', 'schema', this.badValueMessage(objectPath, parentSchema, error.data));
      case 'type':
      case 'minimum':
      case 'exclusiveMinimum':
      case 'maximum':
        return this.at(objectPath, 'value', 'schema', this.badValueMessage(objectPath, parentSchema, error.data));
      case 'enum': {
        const allowed = (parentSchema.enum ?? []).map(String);
        const hint = typeof error.data === 'string' ? didYouMean(error.data, allowed) : '';
        const message = `${this.label(objectPath)} must be one of ${allowed.join(', ')}, got ${show(error.data)}${hint}`;
        return this.at(objectPath, 'value', 'schema', message);
      }
      case 'minItems': {
        const limit = (error.params as { limit: number }).limit;
        return this.at(objectPath, 'value', 'schema', `${this.label(objectPath)} must list at least ${limit} item${limit === 1 ? '' : 's'}`);
      }
      case 'uniqueItems': {
        const { i, j } = error.params as { i: number; j: number };
        const items = Array.isArray(error.data) ? error.data : [];
        const later = Math.max(i, j);
        return this.at([...objectPath, later], 'value', 'schema', `${this.label(objectPath)} lists ${show(items[later])} twice; remove one`);
      }
      case 'minLength':
        return this.at(objectPath, 'value', 'schema', `${this.label(objectPath)} must not be empty`);
      default:
        return this.at(objectPath, 'value', 'schema', `${this.label(objectPath)} ${error.message ?? 'is not valid'}`);
    }
  }

  private at(segments: PathSegment[], part: 'key' | 'value', rule: string, message: string): Diagnostic {
    const { line, col } = this.source.positionOf(segments, part);
    return { file: this.source.displayPath, line, col, severity: 'error', rule, message };
  }

  /** ajv's JSON pointer → JS path; indexes of arrays become numbers so they match sequence items. */
  private decodePath(pointer: string): PathSegment[] {
    if (pointer === '') return [];
    const segments: PathSegment[] = [];
    let value: unknown = this.source.data;
    for (const raw of pointer.slice(1).split('/')) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      if (Array.isArray(value)) {
        const index = Number(key);
        segments.push(index);
        value = value[index];
      } else {
        segments.push(key);
        value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
      }
    }
    return segments;
  }

  private isInsideVault(segments: PathSegment[]): boolean {
    for (let i = segments.length; i > 0; i--) if (this.source.isVault(segments.slice(0, i))) return true;
    return false;
  }

  /** Human name of a location: `prefect_api.port`, `prefect_worker_pools[1] of host w1`, … */
  label(segments: PathSegment[]): string {
    if (segments.length === 0) return this.kind === 'inventory' ? 'the inventory' : 'the secrets file';
    return this.kind === 'inventory' ? inventoryLabel(segments) : dotted(segments);
  }

  private unknownKeyMessage(key: string, objectPath: PathSegment[], parentSchema: SchemaNode, data: unknown): string {
    const where = this.label(objectPath);
    const allowed = Object.keys(parentSchema.properties ?? {}).filter((k) => k !== 'source' && k !== 'type' && !k.startsWith('ansible_'));
    if (this.kind === 'inventory') {
      const atAllVars = objectPath.length === 2 && objectPath[0] === 'all' && objectPath[1] === 'vars';
      if (CLUSTER_KEYS.includes(key) && !atAllVars) {
        return `${key} is a cluster-wide setting and is read only from all.vars; move it there (found in ${where})`;
      }
      if (SECRET_KEYS.includes(key)) {
        return `${key} is a secret: put it in the secrets file (-s secrets.yml, encrypted with ansible-vault), not in the inventory`;
      }
      const isGroup = parentSchema.properties?.hosts !== undefined && parentSchema.properties.children !== undefined;
      if (isGroup) {
        return `unknown key ${JSON.stringify(key)} in ${where}: a group holds only hosts:, vars: and children:${didYouMean(key, ['hosts', 'vars', 'children'])} (hosts go under hosts:)`;
      }
    }
    const discriminator = discriminatorOf(data);
    const context = discriminator ? ` with ${discriminator}` : '';
    const suggestion = didYouMean(key, allowed);
    const passThrough = parentSchema.patternProperties?.['^ansible_'] ? '; ansible_* connection variables are also allowed' : '';
    const list = allowed.length > 0 ? `; allowed here${context}: ${allowed.join(', ')}` : '';
    return `unknown key ${JSON.stringify(key)} in ${where}${suggestion || `${list}${passThrough}`}`;
  }

  private badName(objectPath: PathSegment[], name: string, parentSchema: SchemaNode): Diagnostic {
    const container = objectPath[objectPath.length - 1];
    const what =
      container === 'hosts'
        ? 'host name'
        : container === 'prefect_work_pools'
          ? 'work pool name'
          : container === 'env'
            ? objectPath[objectPath.length - 2] === 'prefect_server_settings'
              ? 'Prefect setting name'
              : 'environment variable name'
            : container === 'postgresql_conf'
              ? 'PostgreSQL setting name'
              : 'group name';
    const reason = forbiddenCharIn(name) ?? `it must be ${parentSchema.description ?? `match ${parentSchema.pattern ?? ''}`}`;
    return this.at([...objectPath, name], 'key', 'schema', `${what} ${JSON.stringify(name)} is not valid: ${reason}`);
  }

  private badValueMessage(objectPath: PathSegment[], schema: SchemaNode, data: unknown): string {
    const where = this.label(objectPath);
    if (typeof data === 'string') {
      const forbidden = forbiddenCharIn(data);
      if (forbidden) return `${where} ${forbidden}`;
    }
    const types = typesOf(schema);
    const numeric = types.includes('number') || types.includes('integer');
    const text = this.source.plainTextOf(objectPath);
    if (types.includes('string') && !numeric && typeof data !== 'string' && text !== undefined && resolvePlain(text) !== 'str') {
      // The user wrote text; YAML 1.1 (and so Ansible) read something else: say what, and how to keep the text.
      return `${where} must be ${describeExpected(schema)}, but YAML 1.1 reads ${text} as ${describeResolved(resolvePlain(text), text)} (so does Ansible); write ${JSON.stringify(text)}`;
    }
    let message = `${where} must be ${describeExpected(schema)}, got ${show(data)}`;
    if (types.includes('string') && !numeric && (typeof data === 'number' || typeof data === 'boolean')) {
      message += '; put it in quotes so YAML reads it as text';
    }
    return message;
  }

  private describeProperty(parentSchema: SchemaNode, key: string): string | undefined {
    let schema = parentSchema.properties?.[key];
    if (schema?.$ref) schema = this.definitions[schema.$ref.replace('#/definitions/', '')];
    return schema?.description;
  }
}

/** Follows the inventory's structure (group → hosts/vars/children) so host and group names are never mistaken for keys. */
function inventoryLabel(segments: PathSegment[]): string {
  if (segments[0] === 'all' && segments[1] === 'vars') return segments.length === 2 ? 'all.vars' : dotted(segments.slice(2));
  let group = String(segments[0]);
  let i = 1;
  while (i < segments.length) {
    const key = segments[i];
    if (key === 'children' && i + 1 < segments.length) {
      group = String(segments[i + 1]);
      i += 2;
    } else if (key === 'hosts' && i + 1 < segments.length) {
      const host = `host ${String(segments[i + 1])}`;
      const rest = segments.slice(i + 2);
      return rest.length === 0 ? host : `${dotted(rest)} of ${host}`;
    } else if (key === 'vars') {
      const rest = segments.slice(i + 1);
      return rest.length === 0 ? `the vars of group ${group}` : `${dotted(rest)} in the vars of group ${group}`;
    } else if (key === 'hosts' || key === 'children') {
      return `the ${key} of group ${group}`;
    } else {
      return dotted(segments);
    }
  }
  return `group ${group}`;
}

function dotted(segments: PathSegment[]): string {
  return segments.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function typesOf(schema: SchemaNode): string[] {
  if (schema.type === undefined) return [];
  return Array.isArray(schema.type) ? schema.type : [schema.type];
}

/** "an integer between 1 and 65535", "true or false", "a Prefect 3 release such as \"3.4.11\"" … */
function describeExpected(schema: SchemaNode): string {
  const types = typesOf(schema);
  // A union's own description says it better than "an integer or a string matching …".
  if (types.length > 1 && schema.description && /^an? /.test(schema.description)) return schema.description;
  const parts: string[] = [];
  for (const type of types) {
    if (type === 'integer' || type === 'number') {
      const noun = type === 'integer' ? 'an integer' : 'a number';
      const { minimum: min, maximum: max } = schema;
      if (schema.exclusiveMinimum !== undefined) parts.push(`${noun} greater than ${schema.exclusiveMinimum}`);
      else if (min !== undefined && max !== undefined) parts.push(`${noun} between ${min} and ${max}`);
      else if (min !== undefined) parts.push(`${noun} of at least ${min}`);
      else if (max !== undefined) parts.push(`${noun} of at most ${max}`);
      else parts.push(noun);
    } else if (type === 'string') {
      parts.push(schema.pattern && schema.description ? schema.description : 'a string');
    } else if (type === 'boolean') parts.push('true or false');
    else if (type === 'object') parts.push('a mapping (key: value)');
    else if (type === 'array') parts.push('a list');
    else if (type === 'null') parts.push('empty');
  }
  if (parts.length === 0) return schema.description ?? 'valid';
  if (parts.length === 1) return parts[0] as string;
  return `${parts.slice(0, -1).join(', ')} or ${parts[parts.length - 1] as string}`;
}

/** Names the first character no Ansible YAML file can carry, or undefined when there is none. */
export function forbiddenCharIn(text: string): string | undefined {
  const match = FORBIDDEN_CHAR.exec(text);
  if (!match) return undefined;
  const code = (match[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  const kind = /[\ud800-\udfff]/.test(match[0]) ? 'a lone surrogate' : 'a control character';
  return `contains ${kind} (U+${code}) at character ${match.index + 1}; remove it (Ansible's YAML parser rejects or mangles it)`;
}

/**
 * The data as JSON Schema sees it: exact numbers as JS numbers, inline vault values as their text. Copied only along
 * the paths that hold such a value; the rest is the data itself (ajv only reads it), so a 2,000-host inventory of
 * plain values costs no copy.
 */
export function plainData(value: unknown): unknown {
  if (value instanceof YamlNumber) return value.valueOf();
  if (value instanceof VaultText) return value.ciphertext;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const plain = plainData(value[i]);
      if (plain !== value[i]) (out ??= value.slice())[i] = plain;
    }
    return out ?? value;
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    let out: Record<string, unknown> | undefined;
    for (const k of Object.keys(value)) {
      const v = (value as Record<string, unknown>)[k];
      const plain = plainData(v);
      // defineProperty: a key named __proto__ stays a key.
      if (plain !== v) Object.defineProperty((out ??= { ...value }), k, { value: plain, enumerable: true, writable: true, configurable: true });
    }
    return out ?? value;
  }
  return value;
}

/** A short rendering of a value for messages. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value instanceof YamlNumber) return String(value);
  if (value instanceof VaultText) return 'an inline vault value';
  if (value === null) return 'nothing (an empty value)';
  if (value instanceof Date) return `${value.toISOString().slice(0, 10)} (YAML reads it as a date; put it in quotes)`;
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/** "source: pixi-pack" when an object is one branch of a discriminated union, for context in messages. */
function discriminatorOf(data: unknown): string | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  for (const key of ['source', 'type']) {
    const value = (data as Record<string, unknown>)[key];
    if (typeof value === 'string') return `${key}: ${value}`;
  }
  return undefined;
}
