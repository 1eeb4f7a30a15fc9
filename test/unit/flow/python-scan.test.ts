import { isFlowDecorator, logicalLines, scanPython } from '../../../src/flow/python-scan.js';

describe('logicalLines', () => {
  it('joins bracketed and backslash-continued lines and blanks strings and comments', () => {
    const src = ['x = (1,', '     2)  # c (', 'y = "a(b" + \\', "  '''q", ')', "'''", 'z = 3'].join('\n');
    expect(logicalLines(src)).toEqual([
      { line: 1, indent: 0, text: 'x = (1,      2)' },
      { line: 3, indent: 0, text: 'y = "" +    ""' },
      { line: 7, indent: 0, text: 'z = 3' },
    ]);
  });
});

describe('scanPython', () => {
  const src = `
from prefect import task, flow as pflow
import prefect as pf

@pflow
def a(): pass

@flow(
    name="b (with parens",   # tricky )
    log_prints=True,
)
async def b(x: int = 1):
    pass

@pf.flow(retries=2)
def c(): pass

@prefect.flow
def d(): pass

@task
def e(): pass

class K:
    @flow
    def m(self): pass

@my_flow
def f(): pass

def g():
    @flow
    def inner(): pass
    return inner

@flow.with_options(name="x")
def h(): pass

@flow  # a comment
@other
def i(): pass
`;
  const scan = scanPython(src);
  const byName = (n: string) => scan.functions.find((f) => f.name === n)!;
  const isFlow = (n: string) => byName(n).decorators.some((d) => isFlowDecorator(d, scan.flowNames));

  it('finds functions with their lines and level', () => {
    expect(byName('a')).toMatchObject({ line: 6, topLevel: true, async: false });
    expect(byName('b')).toMatchObject({ line: 12, topLevel: true, async: true });
    expect(byName('m')).toMatchObject({ topLevel: false });
    expect(byName('inner')).toMatchObject({ topLevel: false });
  });
  it('knows the flow import aliases', () => {
    expect([...scan.flowNames].sort()).toEqual(['pf.flow', 'pflow']);
  });
  it.each([
    ['a', true],
    ['b', true],
    ['c', true],
    ['d', true],
    ['e', false],
    ['f', false],
    ['g', false],
    ['h', false],
    ['i', true],
  ])('%s is a flow: %s', (name, expected) => {
    expect(isFlow(name)).toBe(expected);
  });
});
