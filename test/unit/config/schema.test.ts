import { loadFixture, findings, where } from './helpers.js';

describe('schema diagnostics point at the offending node with a message naming the key', () => {
  test('type, pattern, enum, bounds, names, unknown and misplaced keys', async () => {
    const { config, diagnostics } = await loadFixture('schema-errors.yml');
    expect(config).toBeUndefined();
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '3:22 error schema | prefect_version must be a Prefect 3 release such as "3.4.11", but YAML 1.1 reads 3.10 as the float 3.1 (so does Ansible); write "3.10"',
      `4:19 error schema | prefect_user must be a system user name such as prefect (lower-case letters, digits, '_' or '-'), got "Prefect User"`,
      expect.stringMatching(/^5:26 error schema \| prefect_install_dir must be an absolute path .*got "\/opt\/\.\.\/prefect"$/),
      expect.stringMatching(/^6:19 error schema \| prefect_home must be an absolute path .*got "relative\/home"$/),
      expect.stringMatching(/^7:5 error schema \| prefect_environment\.pixi_unpack_binary is required \(a path on this machine/),
      '10:7 error unknown-key | unknown key "prefix" in prefect_environment; allowed here with source: pixi-pack: pixi_pack_tarball, pixi_unpack_binary',
      '12:13 error schema | prefect_api.port must be an integer between 1 and 65535, got "abc"',
      expect.stringMatching(/^13:12 error schema \| prefect_api\.url must be the URL .*\(ending in \/api\), got "http:\/\/10\.0\.0\.1:4200"$/),
      '15:13 error schema | prefect_database.type must be one of sqlite, postgresql, got "postgres"; did you mean "postgresql"?',
      expect.stringMatching(/^17:7 error schema \| work pool name "bad pool" is not valid: it must be a name of 1-63 letters/),
      '18:28 error schema | prefect_work_pools.bad pool.concurrency_limit must be an integer of at least 0 or empty, got -1',
      expect.stringMatching(/^20:11 error schema \| environment variable name "1BAD" is not valid/),
      '21:17 error schema | prefect_work_pools.bad pool.env.GOOD must be a string, number or boolean (numbers and booleans become text), got a list',
      '22:33 error schema | prefect_worker_healthcheck must be true or false, got "yes"',
      '23:5 error unknown-key | unknown key "prefect_verison" in all.vars; did you mean "prefect_version"?',
      '28:11 error unknown-key | prefect_api is a cluster-wide setting and is read only from all.vars; move it there (found in host srv)',
      '32:39 error schema | prefect_worker_pools of host w1 lists "cpu" twice; remove one',
      expect.stringMatching(/^33:36 error schema \| prefect_worker_gpu_ids\[0\] of host w1 must be a GPU index .*got -1$/),
      expect.stringMatching(/^33:40 error schema \| prefect_worker_gpu_ids\[1\] of host w1 must be a GPU index .*got "GPU-xyz"$/),
      expect.stringMatching(/^34:9 error schema \| host name "bad host" is not valid/),
      '36:7 error unknown-key | unknown key "pag-x" in group other: a group holds only hosts:, vars: and children: (hosts go under hosts:)',
    ]);
  });

  test('missing required keys point at the mapping that lacks them', async () => {
    const { diagnostics } = await loadFixture('missing-required.yml');
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '2:3 error schema | prefect_version is required (a Prefect 3 release such as "3.4.11")',
      expect.stringMatching(/^3:5 error schema \| prefect_environment\.wheelhouse_dir is required/),
      expect.stringMatching(/^5:5 error schema \| prefect_api\.url is required/),
      '9:13 error schema | prefect_database.mode must be one of local, external, got "remote"',
      '10:18 error schema | prefect_database.pool_size must be an integer of at least 1, got 0',
    ]);
  });

  test('control characters, U+0085, U+2028 and lone surrogates are rejected wherever a string goes', async () => {
    const { diagnostics } = await loadFixture('control-chars.yml');
    expect(diagnostics.map((d) => `${where(d)} | ${d.message.replace(/; remove it.*/, '')}`)).toEqual([
      '3:32 error schema | ansible_host_key_checking contains a control character (U+0085) at character 3',
      '10:14 error schema | prefect_work_pools.cpu.env.A contains a control character (U+2028) at character 5',
      '11:14 error schema | prefect_work_pools.cpu.env.B contains a lone surrogate (U+D800) at character 6',
      '12:14 error schema | prefect_work_pools.cpu.env.C contains a control character (U+0007) at character 5',
      '17:25 error schema | ansible_user of host srv contains a control character (U+0009) at character 4',
    ]);
  });

  test('keys in the wrong place get a hint where they belong', async () => {
    const { diagnostics } = await loadFixture('misplaced.yml');
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      expect.stringMatching(/^6:5 error unknown-key \| prefect_api_auth_string is a secret: put it in the secrets file/),
      '7:5 error unknown-key | unknown key "worker_pools" in all.vars; did you mean "prefect_worker_pools"?',
      '10:7 error unknown-key | unknown key "srv" in group prefect_server: a group holds only hosts:, vars: and children: (hosts go under hosts:)',
      expect.stringMatching(/^14:9 error unknown-key \| prefect_version is a cluster-wide setting .*\(found in the vars of group prefect_workers\)$/),
      '17:11 error unknown-key | unknown key "prefect_worker_pool" in host w1; did you mean "prefect_worker_pools"?',
    ]);
  });

  test('an empty file is reported at its start', async () => {
    expect(await findings('empty.yml')).toEqual(['1:1 error schema']);
  });

  test('YAML 1.1 values: unquoted dates are dates, as Ansible reads them', async () => {
    const { diagnostics } = await loadFixture('date-value.yml');
    expect(diagnostics.map((d) => `${where(d)} | ${d.message}`)).toEqual([
      '3:22 error schema | prefect_version must be a Prefect 3 release such as "3.4.11", but YAML 1.1 reads 2001-12-14 as a date (so does Ansible); write "2001-12-14"',
    ]);
  });

  test('secrets: auth string format and unknown keys', async () => {
    const { diagnostics, config, secrets } = await loadFixture('minimal.yml', 'secrets-bad.yml');
    expect(diagnostics.map((d) => `${d.file} ${where(d)} | ${d.message}`)).toEqual([
      'secrets-bad.yml 1:26 error schema | prefect_api_auth_string must be user:password for the API and UI (basic auth), such as admin:s3cret, got "no-colon-here"',
      'secrets-bad.yml 2:1 error unknown-key | unknown key "prefect_database_pasword" in the secrets file; did you mean "prefect_database_password"?',
    ]);
    expect(config).toBeUndefined();
    expect(secrets).toBeUndefined();
  });
});

describe('plainData: the data as the schema sees it', () => {
  test('converts exact numbers and inline vault values, copying only the paths that hold them', async () => {
    const { plainData } = await import('../../../src/config/schema.js');
    const { VaultText, YamlNumber } = await import('../../../src/config/yaml11.js');
    const untouched = { ansible_host: '10.0.0.1', pools: ['a', 'b'] };
    const vault = new VaultText('$ANSIBLE_VAULT;1.1;AES256\n6162\n');
    const data = {
      hosts: { w1: untouched, w2: { ratio: new YamlNumber('float', '1.50', 1.5), ['__proto__']: new YamlNumber('int', '7', 7) } },
      secrets: [1, vault],
    };
    const plain = plainData(data) as typeof data & { hosts: { w2: Record<string, unknown> }; secrets: unknown[] };
    expect(plain.hosts.w1).toBe(untouched);
    expect(plain.hosts.w2).toEqual({ ratio: 1.5, ['__proto__']: 7 });
    expect(Object.hasOwn(plain.hosts.w2, '__proto__')).toBe(true);
    expect(plain.secrets).toEqual([1, '$ANSIBLE_VAULT;1.1;AES256\n6162\n']);
    // The input is read, never changed.
    expect(data.hosts.w2.ratio).toBeInstanceOf(YamlNumber);
    expect(data.secrets[1]).toBe(vault);
    expect(plainData(untouched)).toBe(untouched);
  });
});
