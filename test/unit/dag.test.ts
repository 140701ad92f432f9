/**
 * Unit tests of DAG validation and graph algorithms (pure code: no server, no workflow).
 */
import {
  criticalPath,
  dependents,
  fillPlaceholders,
  idealMakespan,
  levels,
  placeholdersIn,
  priorityRanks,
  remainingPathLengths,
  topologicalOrder,
  transitiveDependents,
  validateDag,
  type GraphNode,
} from '../../src/core/dag';
import { InvalidInputError } from '../../src/core/tasks';

/** Builds nodes from `id: deps` pairs, so graphs read like adjacency lists. */
function graph(spec: Record<string, string[]>, estimatedMs: Record<string, number> = {}): (GraphNode & { prompt: string })[] {
  return Object.entries(spec).map(([id, dependsOn]) => ({ id, prompt: `do ${id}`, dependsOn, ...(estimatedMs[id] ? { estimatedMs: estimatedMs[id] } : {}) }));
}

/** The message validateDag throws (and checks it is an InvalidInputError). */
function problemOf(input: unknown): string {
  try {
    validateDag(input);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidInputError);
    return (err as Error).message;
  }
  throw new Error('expected validateDag to throw');
}

// A chain of 6 one-unit nodes plus 10 independent one-unit nodes listed before it.
const skewed = [
  ...Array.from({ length: 10 }, (_, i) => ({ id: `solo${i}`, prompt: 'p' })),
  ...Array.from({ length: 6 }, (_, i) => ({ id: `chain${i}`, prompt: 'p', dependsOn: i ? [`chain${i - 1}`] : [] })),
];

describe('validateDag', () => {
  it('accepts a valid spec and returns the parsed value', () => {
    const spec = {
      name: 'report',
      maxConcurrent: 4,
      onFailure: 'fail-fast',
      model: 'claude-test',
      nodes: [
        { id: 'facts', prompt: 'List facts' },
        { id: 'draft', prompt: 'Write from {{facts}}', system: 'Be brief, see {{ facts }}', dependsOn: ['facts'], estimatedMs: 5000 },
      ],
    };
    expect(validateDag(spec)).toEqual(spec);
  });

  it('rejects an empty node list', () => {
    expect(problemOf({ nodes: [] })).toBe('Invalid DAG spec: nodes: must not be empty');
  });

  it('rejects a spec that is not an object', () => {
    expect(problemOf('nodes')).toMatch(/^Invalid DAG spec: /);
  });

  it('names schema problems with their path', () => {
    expect(
      problemOf({
        nodes: [
          { id: 'a', prompt: 'ok' },
          { id: 'b', prompt: '  ' },
        ],
      }),
    ).toBe('Invalid DAG spec: nodes[1].prompt: must not be empty');
    expect(problemOf({ nodes: [{ id: 'a b', prompt: 'x' }] })).toBe('Invalid DAG spec: nodes[0].id: must contain only letters, digits, "_", "." and "-"');
    expect(problemOf({ nodes: [{ id: '', prompt: 'x' }] })).toBe('Invalid DAG spec: nodes[0].id: must not be empty');
    expect(problemOf({ nodes: [{ id: 'a', prompt: 'x', estimatedMs: 0 }] })).toBe('Invalid DAG spec: nodes[0].estimatedMs: must be greater than 0');
    expect(problemOf({ nodes: [{ id: 'a', prompt: 'x' }], maxConcurrent: 1001 })).toBe('Invalid DAG spec: maxConcurrent: must be at most 1000');
    expect(problemOf({ nodes: [{ id: 'a', prompt: 'x' }], onFailure: 'retry' })).toBe('Invalid DAG spec: onFailure: must be "skip-dependents" or "fail-fast"');
    expect(problemOf({ nodes: [{ id: 'a', prompt: 'x' }], maxAttempts: 0 })).toBe('Invalid DAG spec: maxAttempts: must be at least 1');
  });

  it('rejects duplicate ids', () => {
    expect(problemOf({ nodes: graph({ a: [], b: [] }).concat(graph({ a: [] })) })).toBe('Invalid DAG spec: duplicate node ids: a');
  });

  it('rejects a self-dependency without also calling it a cycle', () => {
    expect(problemOf({ nodes: graph({ a: ['a'] }) })).toBe('Invalid DAG spec: node "a" depends on itself');
  });

  it('rejects an unknown dependency', () => {
    expect(problemOf({ nodes: graph({ a: [], b: ['a', 'zz'] }) })).toBe('Invalid DAG spec: node "b" depends on unknown node "zz"');
  });

  it('rejects a dependency listed twice', () => {
    expect(problemOf({ nodes: graph({ a: [], b: ['a', 'a'] }) })).toBe('Invalid DAG spec: node "b" lists "a" more than once in dependsOn');
  });

  it('rejects a placeholder that names no dependency, in the prompt or the system prompt', () => {
    const nodes = [
      { id: 'x', prompt: 'x' },
      { id: 'a', prompt: 'a' },
      { id: 'c', prompt: 'Use {{a}} and {{x}}', dependsOn: ['a'] },
      { id: 'd', prompt: 'd', system: 'See {{ a }}' },
    ];
    expect(problemOf({ nodes })).toBe('Invalid DAG spec: node "c" uses {{x}} but does not depend on "x"; node "d" uses {{a}} but does not depend on "a"');
  });

  it('prints a cycle from its smallest id, following dependsOn', () => {
    const message = 'Invalid DAG spec: cycle: a → b → c → a';
    expect(problemOf({ nodes: graph({ a: ['b'], b: ['c'], c: ['a'] }) })).toBe(message);
    // Same graph, other listing order: same message.
    expect(problemOf({ nodes: graph({ c: ['a'], b: ['c'], a: ['b'] }) })).toBe(message);
  });

  it('reports every distinct cycle once', () => {
    const nodes = graph({ start: ['a'], a: ['b', 'c'], b: ['a'], c: ['a'], x: ['y'], y: ['x'] });
    expect(problemOf({ nodes })).toBe('Invalid DAG spec: cycle: a → b → a; cycle: a → c → a; cycle: x → y → x');
  });

  it('names several problems at once', () => {
    const input = {
      maxConcurrent: 0,
      nodes: [
        { id: 'a', prompt: '' },
        { id: 'b', prompt: 'x', dependsOn: ['b', 'zz'] },
        { id: 'a', prompt: 'x' },
      ],
    };
    expect(problemOf(input)).toBe(
      'Invalid DAG spec: nodes[0].prompt: must not be empty; maxConcurrent: must be at least 1; ' +
        'duplicate node ids: a; node "b" depends on itself; node "b" depends on unknown node "zz"',
    );
  });

  it('names schema, placeholder and cycle problems together', () => {
    const nodes = [
      { id: 'a', prompt: 'x', dependsOn: ['c'], maxTokens: 0 },
      { id: 'b', prompt: 'from {{q}}', dependsOn: ['a'] },
      { id: 'c', prompt: 'x', dependsOn: ['b'] },
    ];
    expect(problemOf({ nodes })).toBe('Invalid DAG spec: nodes[0].maxTokens: must be at least 1; node "b" uses {{q}} but does not depend on "q"; cycle: a → c → b → a');
  });

  it('skips cycle and placeholder checks while ids or deps are wrong, to avoid noise', () => {
    const nodes = [
      { id: 'a', prompt: '{{nope}}', dependsOn: ['b'] },
      { id: 'b', prompt: 'x', dependsOn: ['a', 'zz'] },
    ];
    expect(problemOf({ nodes })).toBe('Invalid DAG spec: node "b" depends on unknown node "zz"');
  });

  it('does not call a dependency unknown when another node has no readable id', () => {
    expect(problemOf({ nodes: [{ prompt: 'x' }, { id: 'b', prompt: 'x', dependsOn: ['a'] }] })).toBe('Invalid DAG spec: nodes[0].id: must be a string');
  });
});

describe('topologicalOrder', () => {
  it('orders dependencies first, breaking ties by id', () => {
    expect(topologicalOrder(graph({ d: ['b', 'c'], c: ['a'], b: ['a'], a: [], e: [] }))).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(topologicalOrder(graph({ z: [], y: ['z'], b: [] }))).toEqual(['b', 'z', 'y']);
  });

  it('throws on a cycle, naming it', () => {
    expect(() => topologicalOrder(graph({ a: [], b: ['a', 'c'], c: ['b'] }))).toThrow(new InvalidInputError('Invalid DAG spec: cycle: b → c → b'));
    expect(() => topologicalOrder(graph({ a: ['a'] }))).toThrow('cycle: a → a');
  });

  it('throws on an unknown dependency or duplicate ids', () => {
    expect(() => topologicalOrder(graph({ a: ['zz'] }))).toThrow('node "a" depends on unknown node "zz"');
    expect(() => topologicalOrder([{ id: 'a' }, { id: 'a' }])).toThrow('duplicate node ids: a');
  });
});

describe('dependents', () => {
  const nodes = graph({ a: [], b: ['a'], c: ['a'], d: ['b', 'c'], e: ['d'], f: [] });

  it('lists direct dependents of every node', () => {
    expect(dependents(nodes)).toEqual(
      new Map([
        ['a', ['b', 'c']],
        ['b', ['d']],
        ['c', ['d']],
        ['d', ['e']],
        ['e', []],
        ['f', []],
      ]),
    );
  });

  it('lists transitive dependents, sorted', () => {
    expect(transitiveDependents(nodes, 'a')).toEqual(['b', 'c', 'd', 'e']);
    expect(transitiveDependents(nodes, 'c')).toEqual(['d', 'e']);
    expect(transitiveDependents(nodes, 'f')).toEqual([]);
    expect(() => transitiveDependents(nodes, 'zz')).toThrow('unknown node "zz"');
  });
});

describe('critical path', () => {
  const diamond = graph({ a: [], b: ['a'], c: ['a'], d: ['b', 'c'] });

  it('takes the heavier branch of a diamond', () => {
    expect(criticalPath(graph({ a: [], b: ['a'], c: ['a'], d: ['b', 'c'] }, { b: 2, c: 5 }))).toEqual({ path: ['a', 'c', 'd'], length: 7 });
  });

  it('breaks ties with the lexicographically smallest path', () => {
    expect(criticalPath(diamond)).toEqual({ path: ['a', 'b', 'd'], length: 3 });
    expect(criticalPath(graph({ y: [], x: [] }))).toEqual({ path: ['x'], length: 1 });
  });

  it('follows a long chain rather than many short nodes', () => {
    expect(criticalPath(skewed)).toEqual({ path: ['chain0', 'chain1', 'chain2', 'chain3', 'chain4', 'chain5'], length: 6 });
    const heavy = graph({ s: [], big: [], t: ['s', 'big'] }, { big: 10 });
    expect(criticalPath(heavy)).toEqual({ path: ['big', 't'], length: 11 });
    expect(criticalPath(heavy, () => 1)).toEqual({ path: ['big', 't'], length: 2 });
  });

  it('is empty for no nodes, and the ideal makespan is its length', () => {
    expect(criticalPath([])).toEqual({ path: [], length: 0 });
    expect(idealMakespan(diamond, (n) => (n.id === 'c' ? 4 : 1))).toBe(6);
  });

  it('rejects weights that are not finite and non-negative', () => {
    expect(() => criticalPath(diamond, () => NaN)).toThrow(RangeError);
    expect(() => criticalPath(diamond, () => -1)).toThrow('weight of node "a" must be a finite number >= 0, got -1');
  });

  it('computes the remaining path length of every node', () => {
    const nodes = graph({ a: [], b: ['a'], c: ['a'], d: ['b', 'c'], e: [] }, { b: 2, c: 5, e: 3 });
    expect(remainingPathLengths(nodes)).toEqual(
      new Map([
        ['a', 7],
        ['b', 3],
        ['c', 6],
        ['d', 1],
        ['e', 3],
      ]),
    );
  });

  it('ranks longest remaining path first, then by id', () => {
    const nodes = graph({ a: [], b: ['a'], c: ['a'], d: ['b', 'c'], e: [] }, { b: 2, c: 5, e: 3 });
    // Remaining: a 7, c 6, b 3, e 3, d 1.
    expect(priorityRanks(nodes)).toEqual(
      new Map([
        ['a', 0],
        ['b', 2],
        ['c', 1],
        ['d', 4],
        ['e', 3],
      ]),
    );
    const ranks = priorityRanks(skewed);
    expect(ranks.get('chain0')).toBe(0);
    expect([...ranks.values()].sort((x, y) => x - y)).toEqual([...Array(skewed.length).keys()]);
  });
});

describe('levels', () => {
  it('gives sources level 0 and others one more than their deepest dependency', () => {
    expect(levels(graph({ a: [], b: ['a'], c: ['b'], d: ['a', 'c'], e: [] }))).toEqual(
      new Map([
        ['a', 0],
        ['b', 1],
        ['c', 2],
        ['d', 3],
        ['e', 0],
      ]),
    );
  });
});

describe('placeholders', () => {
  it('lists placeholder ids once, in order of first use', () => {
    expect(placeholdersIn('{{b}} then {{ a.1 }} then {{b}} and {not} {{bad id}}')).toEqual(['b', 'a.1']);
    expect(placeholdersIn('none')).toEqual([]);
  });

  it('fills known placeholders and leaves unknown ones as written', () => {
    expect(fillPlaceholders('A: {{a}}; B: {{ b }}; C: {{c}}; A again: {{a}}', { a: 'one', b: 'two' })).toBe('A: one; B: two; C: {{c}}; A again: one');
  });

  it('inserts outputs literally and ignores inherited properties', () => {
    expect(fillPlaceholders('{{a}}', { a: 'cost $& and $1' })).toBe('cost $& and $1');
    expect(fillPlaceholders('{{constructor}} {{toString}}', {})).toBe('{{constructor}} {{toString}}');
  });
});
