import { flowNameOf, isFlowDecorator, logicalLines, scanPython } from '../../../src/flow/python-scan.js';

describe('logicalLines', () => {
  it('joins bracketed and backslash-continued lines and blanks strings and comments', () => {
    const src = ['x = (1,', '     2)  # c (', 'y = "a(b" + \\', "  '''q", ')', "'''", 'z = 3'].join('\n');
    expect(logicalLines(src)).toEqual([
      { line: 1, indent: 0, text: 'x = (1,      2)', strings: [] },
      { line: 3, indent: 0, text: 'y = "" +    ""', strings: [{ prefix: '', body: 'a(b', triple: false }, { prefix: '', body: 'q\n)\n', triple: true }] },
      { line: 7, indent: 0, text: 'z = 3', strings: [] },
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

describe('flowNameOf', () => {
  const nameOf = (src: string): string | undefined => {
    const f = scanPython(src).functions.find((fn) => fn.decorators.length > 0);
    if (!f) throw new Error('no decorated function');
    return flowNameOf(f.decorators[0] as string, f.decoratorStrings[0] ?? [], f.name);
  };

  it("is Prefect's default without name=: the function's name with - for _", () => {
    expect(nameOf('@flow\ndef my_workflow(): pass\n')).toBe('my-workflow');
    expect(nameOf('@flow(log_prints=True, description="name=x")\ndef my_workflow(): pass\n')).toBe('my-workflow');
  });

  it('is the literal of name=, on one line or several, single or double quoted', () => {
    expect(nameOf('@flow(name="Holography Main Flow")\ndef main(sbid: int): pass\n')).toBe('Holography Main Flow');
    expect(nameOf("@flow(\n    log_prints=True,\n    name='etl (nightly)',  # ) tricky\n)\ndef main(): pass\n")).toBe('etl (nightly)');
    expect(nameOf('@flow(retries=f(name="inner"), name="outer")\ndef main(): pass\n')).toBe('outer');
  });

  it('is unknown when the name is computed or escaped', () => {
    expect(nameOf('NAME = "x"\n@flow(name=NAME)\ndef main(): pass\n')).toBeUndefined();
    expect(nameOf('@flow(name=f"run-{1}")\ndef main(): pass\n')).toBeUndefined();
    expect(nameOf('@flow(name="a\\tb")\ndef main(): pass\n')).toBeUndefined();
    expect(nameOf('@flow(name="a" "b")\ndef main(): pass\n')).toBeUndefined();
  });
});
