import { formatRecapTable, parseRecap } from '../../../src/ansible/recap.js';

describe('parseRecap', () => {
  it('reads the callback JSON', () => {
    const text = JSON.stringify({
      hosts: { w1: { ok: 1, changed: 2, failures: 0, unreachable: 0, skipped: 3, rescued: 0, ignored: 0 } },
    });
    expect(parseRecap(text)).toEqual(JSON.parse(text));
  });
  it('treats missing counters as 0', () => {
    expect(parseRecap('{"hosts":{"h":{"ok":1}}}')?.hosts.h).toEqual({
      ok: 1, changed: 0, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0,
    });
  });
  it.each(['', 'not json', '[]', '{}', '{"hosts":[]}', '{"hosts":{"h":1}}', '{"hosts":{"h":{"ok":"1"}}}', '{"hosts":{"h":{"ok":-1}}}'])(
    'rejects %j',
    (t) => {
      expect(parseRecap(t)).toBeUndefined();
    },
  );
});

describe('formatRecapTable', () => {
  const z = { ok: 0, changed: 0, failures: 0, unreachable: 0, skipped: 0, rescued: 0, ignored: 0 };
  it('prints aligned columns, hosts sorted', () => {
    expect(
      formatRecapTable({ hosts: { 'worker-10': { ...z, ok: 12, changed: 3 }, server: { ...z, ok: 1, unreachable: 1 } } }),
    ).toBe(
      ['host       ok  changed  failed  unreachable', 'server      1        0       0            1', 'worker-10  12        3       0            0'].join('\n'),
    );
  });
  it('adds skipped/rescued/ignored only when used', () => {
    expect(formatRecapTable({ hosts: { a: { ...z, skipped: 2 } } }).split('\n')[0]).toBe('host  ok  changed  failed  unreachable  skipped');
  });
  it('says so when there are no hosts', () => {
    expect(formatRecapTable({ hosts: {} })).toBe('no hosts were run against');
  });
});
