import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { compareReleases, prefectVersionsInPackedEnv } from '../../../src/flow/packed-env.js';
import { writePackedEnv } from '../../helpers/packed-env.js';

describe('compareReleases', () => {
  it.each([
    ['3.4.10', '3.4.9', 1],
    ['3.4.9', '3.4.10', -1],
    ['3.4', '3.4.0', 0],
    ['3.10.0', '3.4.11', 1],
    ['3.4.11rc1', '3.4.11', 0],
    ['4', '3.99.99', 1],
  ])('%s vs %s', (a, b, want) => {
    expect(compareReleases(a, b)).toBe(want);
  });
});

describe('prefectVersionsInPackedEnv', () => {
  it('lists the prefect versions of conda packages and wheels, newest last, ignoring look-alikes', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pag-pe-'));
    try {
      const file = await writePackedEnv(path.join(dir, 'env.tar'), [
        'channel/noarch/prefect-3.4.10-pyhd8ed1ab_0.conda',
        'channel/noarch/prefect-3.4.9-pyhd8ed1ab_0.tar.bz2',
        'pypi/prefect-3.4.11-py3-none-any.whl',
        'channel/noarch/prefect-docker-0.6.1-pyhd8ed1ab_0.conda',
        'channel/noarch/prefect_aws-0.5.0-pyhd8ed1ab_0.conda',
      ]);
      expect(await prefectVersionsInPackedEnv(file)).toEqual(['3.4.9', '3.4.10', '3.4.11']);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
