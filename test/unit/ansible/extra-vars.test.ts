import { mkdtemp, readFile, readdir, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileError, UsageError } from '../../../src/errors.js';
import { parseExtraVarArgs, removePrivateDir, wrapUnsafe, writeExtraVarsFile } from '../../../src/ansible/extra-vars.js';

describe('wrapUnsafe', () => {
  it('wraps every string, recursively, and nothing else', () => {
    expect(wrapUnsafe({ a: '{{ x }}', n: 1, b: false, z: null, l: ['s', [2, 't']], o: { k: 'v' } })).toEqual({
      a: { __ansible_unsafe: '{{ x }}' },
      n: 1,
      b: false,
      z: null,
      l: [{ __ansible_unsafe: 's' }, [2, { __ansible_unsafe: 't' }]],
      o: { k: { __ansible_unsafe: 'v' } },
    });
  });
});

describe('parseExtraVarArgs', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'pag-ev-'));
  });
  it('parses key=value (value keeps = and spaces, stays a string) and later wins', async () => {
    expect(await parseExtraVarArgs(['a=1', 'b=x=y z', 'a=2', 'empty='], dir)).toEqual({
      vars: { a: '2', b: 'x=y z', empty: '' },
      files: [],
    });
  });
  it('resolves @file against cwd and requires it to exist', async () => {
    await writeFile(join(dir, 'v.yml'), 'a: 1\n');
    expect(await parseExtraVarArgs(['@v.yml'], dir)).toEqual({ vars: {}, files: [join(dir, 'v.yml')] });
    await expect(parseExtraVarArgs(['@missing.yml'], dir)).rejects.toThrow(FileError);
    await mkdir(join(dir, 'd'));
    await expect(parseExtraVarArgs(['@d'], dir)).rejects.toThrow(/is not a file/);
    await expect(parseExtraVarArgs(['@'], dir)).rejects.toThrow(UsageError);
  });
  it.each(['novalue', '=x', '1a=x', 'a-b=x', '{"json": 1}'])('rejects %j', async (arg) => {
    await expect(parseExtraVarArgs([arg], dir)).rejects.toThrow(UsageError);
  });
});

describe('writeExtraVarsFile', () => {
  it('writes 0600 in a 0700 dir and removePrivateDir deletes it', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'pag-ev-'));
    const { dir, file } = await writeExtraVarsFile({ s: 'p@ss' }, parent);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual({ s: { __ansible_unsafe: 'p@ss' } });
    await removePrivateDir(dir);
    expect(await readdir(parent)).toEqual([]);
  });
});
