import { UsageError } from '../../../src/errors.js';
import { checkDeploymentName, parseFlowParams, parseSchedule } from '../../../src/flow/options.js';

describe('parseFlowParams', () => {
  it('reads JSON when it parses, else a string', () => {
    expect(parseFlowParams(['n=3', 'b=true', 'l=[1,"a"]', 'o={"k":null}', 's=world', 'q="7"', 'e=', 'x=a=b', 'n=4'])).toEqual({
      n: 4, b: true, l: [1, 'a'], o: { k: null }, s: 'world', q: '7', e: '', x: 'a=b',
    });
  });
  it.each(['noeq', '=v', '1x=2', 'a.b=1'])('rejects %j', (a) => {
    expect(() => parseFlowParams([a])).toThrow(UsageError);
  });
});

describe('parseSchedule', () => {
  it('accepts 5 or 6 cron fields and macros', () => {
    expect(parseSchedule('0 3 * * *', undefined)).toEqual({ cron: '0 3 * * *' });
    expect(parseSchedule(' */5  0-6 1,15 JAN-MAR MON#1 ', undefined)).toEqual({ cron: '*/5 0-6 1,15 JAN-MAR MON#1' });
    expect(parseSchedule('0 0 3 * * *', undefined)).toEqual({ cron: '0 0 3 * * *' });
    expect(parseSchedule('@daily', undefined)).toEqual({ cron: '@daily' });
  });
  it('accepts a positive interval', () => {
    expect(parseSchedule(undefined, '3600')).toEqual({ interval: 3600 });
    expect(parseSchedule(undefined, undefined)).toBeUndefined();
  });
  it.each([
    ['* * * *', undefined, /5 fields/],
    ['* * * * * * *', undefined, /5 fields/],
    ['0 3 * * * ; rm', undefined, /5 fields/],
    ['@sometimes', undefined, /5 fields/],
    [undefined, '0', /positive whole number/],
    [undefined, '-5', /positive whole number/],
    [undefined, '1.5', /positive whole number/],
    [undefined, '99999999999999999999', /too large/],
    ['0 3 * * *', '60', /cannot be used together/],
  ])('rejects cron %j interval %j', (cron, interval, re) => {
    expect(() => parseSchedule(cron, interval)).toThrow(re);
  });
});

describe('checkDeploymentName', () => {
  it.each(['', ' ', 'a/b', '50%', 'a\nb', 'nightly run', '_x', '-x', '.x', '..'])('rejects %j', (n) => {
    expect(() => checkDeploymentName(n)).toThrow(UsageError);
  });
  it('accepts ordinary names', () => {
    expect(checkDeploymentName('nightly_run-1.2')).toBe('nightly_run-1.2');
  });
});
