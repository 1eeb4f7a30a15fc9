/**
 * Differential test of pag-ansible's YAML 1.1 scalar resolution against the real thing: Ansible's own loader
 * (ansible.parsing.yaml.loader.AnsibleLoader: PyYAML's resolvers and constructors), run once over thousands of
 * scalars in one python3 process.
 */
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { parseYamlSource } from '../../../src/config/yaml-source.js';
import { ansiblePython } from '../../helpers/ansible-python.js';
import { VaultText, YamlNumber, pythonFloatRepr, yaml11Trap } from '../../../src/config/yaml11.js';

/** What Ansible reads for `v: <text>`: "int:8", "float:3.1", "bool:True", "none:", "date:…", "str:08" or "error". */
const PYTHON = String.raw`
import json, sys, datetime
from ansible.parsing.yaml.loader import AnsibleLoader
out = []
for text in json.load(sys.stdin):
    try:
        loader = AnsibleLoader('v: ' + text + '\n')
        try:
            v = loader.get_single_data()['v']
        finally:
            loader.dispose()
        if isinstance(v, bool): out.append('bool:' + str(v))
        elif isinstance(v, int): out.append('int:' + str(v))
        elif isinstance(v, float): out.append('float:' + repr(v))
        elif v is None: out.append('none:')
        elif isinstance(v, (datetime.date, datetime.datetime)): out.append('date:')
        elif isinstance(v, str): out.append('str:' + v)
        else: out.append('other:' + type(v).__name__)
    except Exception as e:
        out.append('error')
json.dump(out, sys.stdout)
`;

function ansibleReads(texts: string[]): string[] {
  const result = spawnSync(ansiblePython(), ['-c', PYTHON], { input: JSON.stringify(texts), encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.status !== 0) throw new Error(result.stderr);
  return JSON.parse(result.stdout) as string[];
}

async function weRead(text: string): Promise<string> {
  const source = await parseYamlSource(`v: ${text}\n`, 'x.yml');
  if (source.diagnostics.some((d) => d.severity === 'error')) return 'error';
  const v = (source.data as { v: unknown }).v;
  if (typeof v === 'boolean') return `bool:${v ? 'True' : 'False'}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `int:${v}` : `float?:${v}`;
  if (v instanceof YamlNumber) return `${v.kind}:${String(v)}`;
  if (v === null) return 'none:';
  if (v instanceof Date) return 'date:';
  if (v instanceof VaultText) return 'vault';
  if (typeof v === 'string') return `str:${v}`;
  return `other:${typeof v}`;
}

const CORPUS = [
  '08', '09', '010', '0', '00', '-0', '+0', '0_', '0b', '0b_', '0b101', '-0b1_0', '0x', '0x_', '0x1F', '-0xff', '0o17', '0_7',
  '0:3', '1:20', '1:60', '1:59', '-1:20', '1:2:3', '1_0:2', '12345678901234567890', '-98765432109876543210123',
  '9007199254740993', '1.0', '1.', '.5', '-.5', '+.5', '1e3', '1.e3', '1.0e3', '1.0e+3', '1.0E-3', '1.5e+400', '3.10', '3.4.11',
  '1_000', '1_000.5_0', '1:20.5', '0:3.5', '.inf', '-.inf', '+.Inf', '.NaN', '-.nan', '.INF', 'inf', 'nan', '1e+16', '1.0e16',
  '123456789012345678.0', '0.1', '0.0001', '0.00001', '1e-7', '1.0e-7',
  'yes', 'Yes', 'YES', 'yEs', 'no', 'on', 'ON', 'oN', 'off', 'y', 'n', 'Y', 'N', 'true', 'True', 'TRUE', 'tRUE', 'false',
  '~', 'null', 'Null', 'NULL', 'nULL', '', 'None', '<<', '=', '==',
  '2001-12-14', '2001-12-14t21:59:43.10-05:00', '2001-12-14 21:59:43.10 -5', '2001-1-1', '2001-1-1T1:00:00', '2001-13-45', '20011214',
  '3.4.11', 'v1', '1-2', '1:2:3:4', '-', '+', '.', '._', '1._', '0.', '-0.0', '+1_2.3_4e+5',
];

describe('plain scalars resolve exactly as Ansible reads them', () => {
  test('a corpus of YAML 1.1 edge cases', async () => {
    const expected = ansibleReads(CORPUS);
    const ours = await Promise.all(CORPUS.map(weRead));
    const mismatches = CORPUS.map((text, i) => ({ text, ansible: expected[i], ours: ours[i] })).filter((m) => m.ansible !== m.ours);
    expect(mismatches).toEqual([]);
  });

  test('thousands of random number-like scalars', async () => {
    const piece = fc.constantFrom(...'0123456789', '0', '1', '8', '9', '_', ':', '.', '-', '+', 'e', 'E', 'x', 'b', 'o', 'a', 'F', '5', '60', ' ', 'T', 'Z', 'inf', 'nan', 'yes', 'on');
    const texts = fc.sample(fc.array(piece, { minLength: 1, maxLength: 8 }).map((parts) => parts.join('').trim()), { numRuns: 4000, seed: 15 });
    const expected = ansibleReads(texts);
    const ours = await Promise.all(texts.map(weRead));
    const mismatches = texts.map((text, i) => ({ text, ansible: expected[i], ours: ours[i] })).filter((m) => m.ansible !== m.ours);
    expect(mismatches.slice(0, 20)).toEqual([]);
  });
});

describe('floats are written as Python writes them', () => {
  test('repr matches Python on random doubles', () => {
    const values = [...fc.sample(fc.double({ noNaN: true, noDefaultInfinity: true }), { numRuns: 2000, seed: 7 }), 1e16, 1e15, 1e-4, 1e-5, 0.1, 123.0, -0.0, 5e-324];
    const result = spawnSync(ansiblePython(), ['-c', 'import json,sys; print(json.dumps([repr(float(x)) for x in json.load(sys.stdin)]))'], {
      input: JSON.stringify(values.map((v) => (Object.is(v, -0) ? '-0.0' : String(v)))),
      encoding: 'utf8',
    });
    const expected = JSON.parse(result.stdout) as string[];
    expect(values.map(pythonFloatRepr)).toEqual(expected);
  });
});

describe('YAML 1.1 traps', () => {
  test.each([
    ['3.10', 'the float 3.1'],
    ['on', 'the boolean true'],
    ['OFF', 'the boolean false'],
    ['010', 'the integer 8'],
    ['1:20', 'the integer 80'],
    ['0x1F', 'the integer 31'],
    ['2001-12-14', 'a date'],
  ])('%s is flagged', (text, what) => {
    expect(yaml11Trap(text)).toContain(what);
  });

  test.each(['3.4.11', '1.0', '1.5', '8', '-3', '1_000', 'yes', 'true', '08', 'hello'])('%s is not', (text) => {
    expect(yaml11Trap(text)).toBeUndefined();
  });
});
