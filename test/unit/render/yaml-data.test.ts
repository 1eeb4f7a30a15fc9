import { parseDocument } from 'yaml';
import fc from 'fast-check';
import { toAnsibleYaml, type YamlData } from '../../../src/render/yaml-data.js';
import { VaultText, YamlNumber } from '../../../src/config/yaml11.js';

/** Reads YAML back the way our tests can without Ansible: `!unsafe` resolves to the plain string. */
function readBack(text: string): unknown {
  const doc = parseDocument(text, {
    version: '1.1',
    customTags: [{ tag: '!unsafe', resolve: (s: string) => s }],
  });
  expect(doc.errors).toEqual([]);
  return doc.toJS();
}

describe('toAnsibleYaml', () => {
  it('tags every string value !unsafe and double-quotes it', () => {
    const text = toAnsibleYaml({ a: 'x', num: 1, b: true, list: ['y'], m: { k: 'z' } }, 'hdr');
    expect(text).toContain('a: !unsafe "x"');
    expect(text).toContain('num: 1');
    expect(text).toContain('b: true');
    expect(text).toContain('- !unsafe "y"');
    expect(text).toContain('k: !unsafe "z"');
  });

  it('quotes keys that YAML 1.1 would read as another type', () => {
    const text = toAnsibleYaml({ on: 'a', ON: 'b', '1_000': 'c', normal_key: 'd' }, 'hdr');
    expect(text).toMatch(/^"on": /m);
    expect(text).toMatch(/^"ON": /m);
    expect(toAnsibleYaml({ Yes: 1, NULL: 2, PREFECT_HOME: 3 }, "h")).toContain("\"Yes\": 1\n\"NULL\": 2\nPREFECT_HOME: 3");
    expect(text).toMatch(/^"1_000": /m);
    expect(text).toMatch(/^normal_key: /m);
  });

  it('keeps the header one comment per line even when it holds control characters', () => {
    const text = toAnsibleYaml({ a: 'b' }, 'from evil\rname\u2028x\nsecond line');
    const lines = text.split('\n');
    expect(lines[1]).toBe('# from evil?name?x');
    expect(lines[2]).toBe('# second line');
    expect(readBack(text)).toEqual({ a: 'b' });
  });

  it('does not fold long strings', () => {
    const long = 'word '.repeat(100).trim();
    const text = toAnsibleYaml({ a: long }, 'h');
    expect(text.split('\n').some((l) => l.includes(long))).toBe(true);
  });

  it('round-trips arbitrary strings and keys exactly (property)', () => {
    const str = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !/[\uD800-\uDFFF]/.test(s));
    const data: fc.Arbitrary<YamlData> = fc.dictionary(str, fc.oneof(str, fc.array(str, { maxLength: 3 }), fc.integer()), { maxKeys: 5 });
    fc.assert(
      fc.property(data, (d) => {
        expect(readBack(toAnsibleYaml(d, 'h'))).toEqual(d);
      }),
      { numRuns: 300 },
    );
  });
});

describe('inline vault values', () => {
  it('only a value tagged !vault in the input is written as vault data; a string with the prefix stays !unsafe text', () => {
    const text = toAnsibleYaml({ ansible_user: '$ANSIBLE_VAULT;1.1;AES256' }, 'h');
    expect(text).toContain('ansible_user: !unsafe "$ANSIBLE_VAULT;1.1;AES256"');
  });

  it('are written back as !vault block scalars that Ansible decrypts', () => {
    const vaulted = '$ANSIBLE_VAULT;1.1;AES256\n6162\n6364\n';
    const text = toAnsibleYaml({ ansible_become_password: new VaultText(vaulted) }, 'h');
    expect(text).toContain('ansible_become_password: !vault |');
    const doc = parseDocument(text, { version: '1.1', customTags: [{ tag: '!vault', resolve: (s: string) => s }] });
    expect(doc.toJS()).toEqual({ ansible_become_password: vaulted.trimEnd() }); // vault ignores the final newline
  });
});

describe('long keys and exact numbers', () => {
  it('a key longer than YAML allows for an implicit key takes the explicit form', () => {
    const long = 'K'.repeat(10_000);
    const text = toAnsibleYaml({ env: { [long]: 'v', nested: { [long]: { a: 1 } } } }, 'h');
    expect(text).toContain(`  ? ${long}`);
    expect(parseDocument(text, { version: '1.1', customTags: [{ tag: '!unsafe', resolve: (s: string) => s }] }).toJS()).toEqual({
      env: { [long]: 'v', nested: { [long]: { a: 1 } } },
    });
  });

  it('floats stay floats and big integers keep every digit', () => {
    const text = toAnsibleYaml(
      { a: new YamlNumber('float', '1.0', 1), b: new YamlNumber('int', '12345678901234567890', 12345678901234567890n), c: 0.5, d: new YamlNumber('float', '.inf', Infinity) },
      'h',
    );
    expect(text).toContain('a: 1.0\nb: 12345678901234567890\nc: 0.5\nd: .inf\n');
  });
});
