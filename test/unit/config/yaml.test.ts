import { parseYamlSource } from '../../../src/config/yaml-source.js';
import { VaultText, YamlNumber } from '../../../src/config/yaml11.js';
import { loadFixture, findings, where } from './helpers.js';

describe('loading YAML the way Ansible reads it', () => {
  test('a syntax error is a diagnostic with line:col, not an exception', async () => {
    const { diagnostics, config } = await loadFixture('syntax-error.yml');
    expect(config).toBeUndefined();
    // At the opening quote (3:22), not at the end of the input (5:1) where the parser noticed it.
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '3:22 error yaml-syntax | YAML syntax: the "quote opened here is never closed; add the closing "',
    ]);
  });

  test('an unclosed flow sequence is reported at its opening bracket, not on the next line', async () => {
    const { diagnostics } = await loadFixture('syntax-error-2.yml');
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual(['3:18 error yaml-syntax | YAML syntax: the [ opened here is never closed; add the closing ]']);
  });

  test.each([
    ["a: 'x\nb: 1\n", ["1:4 | YAML syntax: the 'quote opened here is never closed; add the closing '"]],
    ['a: {x: 1\nb: 2\n', ['1:4 | YAML syntax: the { opened here is never closed; add the closing }']],
    ['a: [1, [2, 3]\nb: 2\n', ['1:4 | YAML syntax: the [ opened here is never closed; add the closing ]']],
    ['a: [1, {b: "x}]\n', [
      '1:12 | YAML syntax: the "quote opened here is never closed; add the closing "',
      '1:8 | YAML syntax: the { opened here is never closed; add the closing }',
      '1:4 | YAML syntax: the [ opened here is never closed; add the closing ]',
    ]],
  ])('unclosed quotes and brackets point at their opening: %j', async (text, expected) => {
    const source = await parseYamlSource(text, 'f.yml');
    expect(source.diagnostics.map((d) => `${d.line}:${d.col} | ${d.message}`)).toEqual(expected);
  });

  test('duplicate keys are errors naming the key, at the second occurrence', async () => {
    const { diagnostics } = await loadFixture('duplicate-key.yml');
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '6:5 error duplicate-key | duplicate key "prefect_version": Ansible would silently keep only the last one; remove or rename one of them',
    ]);
  });

  test('duplicate keys are found at any depth and in flow mappings; merge keys may repeat', async () => {
    const text = 'a:\n  b: {x: 1, y: 2, x: 3}\n  c:\n    - {k: 1}\n    - {k: 1, k: 2}\nd: &d {z: 1}\ne:\n  <<: *d\n  <<: *d\n';
    const source = await parseYamlSource(text, 'x.yml');
    expect(source.diagnostics.map((d) => `${d.line}:${d.col} ${d.rule} ${d.message.split(':')[0]}`)).toEqual([
      '2:19 duplicate-key duplicate key "x"',
      '5:14 duplicate-key duplicate key "k"',
    ]);
  });

  test('!unsafe scalars, maps and sequences are plain values', async () => {
    const { diagnostics, config } = await loadFixture('tags.yml');
    expect(diagnostics).toEqual([]);
    expect(config?.allVars).toEqual({ ansible_become_password: "{{ lookup('pipe', 'id') }}" });
    expect(config?.prefect_version).toBe('3.4.11');
    expect(config?.prefect_environment).toEqual({ source: 'prefix', prefix: '/software/prefect' });
    expect(config?.workers[0]?.pools).toEqual(['cpu']);
    expect(config?.prefect_work_pools[0]?.env).toEqual({ TEMPLATE: '{{ not templated }}' });
  });

  test('unknown tags are errors (PyYAML has no constructor for them)', async () => {
    const { diagnostics } = await loadFixture('unknown-tag.yml');
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '3:22 error yaml-tag | Unresolved tag: !custom; only !unsafe and !vault are understood',
    ]);
  });

  test('inline !vault: a warning on ansible_* variables, an error where pag-ansible must read the value', async () => {
    const { diagnostics, config } = await loadFixture('inline-vault.yml');
    expect(diagnostics.map(where)).toEqual(['3:5 warning vault-unchecked', '8:5 error vault-unsupported']);
    expect(diagnostics[0]?.message).toBe('ansible_become_password is an inline vault value: it is passed to Ansible as is, without being checked');
    expect(config).toBeUndefined();
  });

  test('an inline vault ansible_* value is kept encrypted for the rendered inventory', async () => {
    const source = await parseYamlSource('a:\n  ansible_password: !vault |\n    $ANSIBLE_VAULT;1.1;AES256\n    3131\n', 'x.yml');
    expect(source.data).toEqual({ a: { ansible_password: new VaultText('$ANSIBLE_VAULT;1.1;AES256\n3131\n') } });
    expect(source.vaultPaths()).toEqual([['a', 'ansible_password']]);
    expect(source.isVault(['a', 'ansible_password'])).toBe(true);
  });

  test('inline vault values in the secrets file are refused with a hint to encrypt the whole file', async () => {
    const { diagnostics } = await loadFixture('minimal.yml', 'secrets-inline-vault.yml');
    expect(diagnostics.map((d) => `${d.file} ${where(d)}`)).toEqual(['secrets-inline-vault.yml 1:1 error vault-unsupported']);
    expect(diagnostics[0]?.message).toContain('ansible-vault encrypt secrets-inline-vault.yml');
  });

  test('YAML 1.1 scalars: yes/off booleans, hex, 1_000 and octal numbers', async () => {
    const { diagnostics, config } = await loadFixture('yaml11.yml');
    // Accepted as Ansible reads them, with a warning where the text was probably meant (issue #15).
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '12:21 warning yaml11-trap | YAML 1.1 reads on as the boolean true (so does Ansible); the environment variable gets "true"; if you meant the text, write "on"',
      '13:18 warning yaml11-trap | YAML 1.1 reads 0755 as the integer 493 (so does Ansible); the environment variable gets "493"; if you meant the text, write "0755"',
    ]);
    expect(config?.prefect_api_port).toBe(4200);
    expect(config?.prefect_worker_healthcheck).toBe(true);
    expect(config?.prefect_analytics_enabled).toBe(false);
    expect(config?.prefect_work_pools[0]).toMatchObject({ concurrency_limit: 1000, env: { ON_VALUE: 'true', OCTAL: '493' } });
  });

  test('anchor and alias names Ansible cannot read are refused (fuzz: `bind_host: && id`)', async () => {
    for (const text of ['a: && id\n', 'a: &x.y 1\nb: *x.y\n', 'a: &\u00e9 1\n']) {
      const source = await parseYamlSource(text, 'x.yml');
      expect(source.diagnostics.map((d) => `${d.line} ${d.rule}`)[0]).toBe('1 yaml-syntax');
    }
    expect((await parseYamlSource('a: &x-1_y 1\nb: *x-1_y\n', 'x.yml')).diagnostics).toEqual([]);
  });

  test('scalars resolve as PyYAML resolves them: y/n and 1e3 stay strings', async () => {
    const source = await parseYamlSource('a: y\nb: n\nc: 1e3\nd: 1.0e+3\ne: yes\nf: Off\ng: 0o17\n', 'x.yml');
    expect(source.data).toEqual({ a: 'y', b: 'n', c: '1e3', d: new YamlNumber('float', '1.0e+3', 1000), e: true, f: false, g: '0o17' });
  });

  test('recursive aliases and absurd nesting are diagnostics, not stack overflows', async () => {
    for (const text of ['all: &a {children: {g: *a}}', `a: ${'['.repeat(100)}${']'.repeat(100)}`]) {
      const source = await parseYamlSource(text, 'x.yml');
      expect(source.data).toBeUndefined();
      expect(source.diagnostics.map((d) => `${d.line}:${d.col} ${d.rule}`)).toEqual(['1:1 yaml-syntax']);
    }
  });

  test('positions survive aliases and merge keys', async () => {
    const text = 'base: &b\n  x: 1\nuse:\n  <<: *b\n  y: 2\n';
    const source = await parseYamlSource(text, 'm.yml');
    expect(source.data).toEqual({ base: { x: 1 }, use: { x: 1, y: 2 } });
    expect(source.positionOf(['use', 'x'])).toEqual({ line: 2, col: 6 });
    expect(source.positionOf(['use', 'y'], 'key')).toEqual({ line: 5, col: 3 });
    // A path that does not exist falls back to the deepest node that does.
    expect(source.positionOf(['use', 'nope', 'deeper'])).toEqual({ line: 4, col: 3 });
  });

  // PyYAML and libyaml end a comment at NEL, LS or PS and read the rest as YAML ({a: 1, b: 2} here); the yaml
  // library would skip it all as comment. Inside a key or value the name and value rules report it instead.
  test.each([
    ['U+2028', '\u2028'],
    ['U+2029', '\u2029'],
    ['U+0085', '\u0085'],
  ])('a line separator (%s) in a comment is refused where it is', async (_, separator) => {
    const source = await parseYamlSource(`a: 1\n# note${separator}b: 2\nc: 3 # x${separator}d: 4\n`, 'f.yml');
    expect(source.data).toBeUndefined();
    expect(source.diagnostics.map((d) => `${d.line}:${d.col} ${d.rule}`)).toEqual(['2:7 yaml-syntax']);
    expect(source.diagnostics[0]?.message).toMatch(/in a comment; Ansible's YAML reads it as a line break.*remove it$/);
    expect((await parseYamlSource('a: "x\u2028y"\nb: x\u2028y\n', 'f.yml')).diagnostics).toEqual([]);
  });
});
