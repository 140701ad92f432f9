/** runDag on the real dev server: no barriers, skip propagation, fail-fast, inputs, validation, ordering, tools. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import type { DagResult } from '../../src/workflows/run-dag';
import { sharedHarness } from '../helpers/harness';

describe('runDag', () => {
  const h = sharedHarness({ llm: { ttftMs: 100, perTokenMs: 0, outputTokens: 12 } });

  const req = (m: string) => h.llm.stats().requests.find((r) => r.prompt.includes(m))!;

  test('no barriers: c (after fast a) starts before slow b finishes', async () => {
    h.llm.setFaults([{ match: 'node-b', fault: { kind: 'latency', ttftMs: 2500 } }]);
    const r = await h.run<DagResult>('runDag', {
      nodes: [
        { id: 'a', prompt: 'node-a' },
        { id: 'b', prompt: 'node-b' },
        { id: 'c', prompt: 'node-c after {{a}}', dependsOn: ['a'] },
        { id: 'd', prompt: 'node-d after {{b}}', dependsOn: ['b'] },
      ],
    });
    expect(r.results.map((x) => x.state)).toEqual(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
    expect(req('node-c').receivedAt).toBeLessThan(req('node-b').finishedAt!);
    expect(req('node-d').receivedAt).toBeGreaterThanOrEqual(req('node-b').finishedAt!);
    expect(r.stats.criticalPath).toEqual(['b', 'd']);
    expect(r.results.find((x) => x.taskId === 'd')!.level).toBe(1);
  });

  test('a node receives exactly its dependencies outputs', async () => {
    const r = await h.run<DagResult>('runDag', {
      nodes: [
        { id: 'a', prompt: 'alpha facts' },
        { id: 'b', prompt: 'beta facts' },
        { id: 'e', prompt: 'epsilon facts' },
        { id: 'c', prompt: 'combine A=[{{a}}] B=[{{b}}]', dependsOn: ['a', 'b'] },
      ],
    });
    const [a, b, e] = ['a', 'b', 'e'].map((id) => r.results.find((x) => x.taskId === id)!.output!);
    const cPrompt = h.llm.stats().requests.find((q) => q.prompt.startsWith('combine'))!.prompt;
    expect(cPrompt).toBe(`combine A=[${a}] B=[${b}]`);
    expect(cPrompt).not.toContain(e);
  });

  test('skip-dependents: a failure skips its transitive dependents with the cause, independent branches finish', async () => {
    h.llm.setFaults([{ match: 'node-a', fault: { kind: 'status', status: 400, message: 'a is malformed' } }]);
    const r = await h.run<DagResult>('runDag', {
      nodes: [
        { id: 'a', prompt: 'node-a' },
        { id: 'b', prompt: 'node-b {{a}}', dependsOn: ['a'] },
        { id: 'c', prompt: 'node-c {{b}}', dependsOn: ['b'] },
        { id: 'x', prompt: 'node-x' },
        { id: 'y', prompt: 'node-y {{x}}', dependsOn: ['x'] },
      ],
    });
    const by = Object.fromEntries(r.results.map((x) => [x.taskId, x]));
    expect(by.a).toMatchObject({ state: 'failed', errorType: 'BadRequest' });
    expect(by.b).toMatchObject({ state: 'skipped' });
    expect(by.b.error).toContain('dependency "a" failed');
    expect(by.c).toMatchObject({ state: 'skipped' });
    expect(by.c.error).toContain('dependency "a" failed');
    expect(by.x.state).toBe('succeeded');
    expect(by.y.state).toBe('succeeded');
    expect(r.stats).toMatchObject({ total: 5, succeeded: 2, failed: 1, skipped: 2 });
    expect(h.llm.countMatching('node-b')).toBe(0);
  });

  test('fail-fast: in-flight nodes are cancelled and the run fails naming the node', async () => {
    h.llm.setFaults([
      { match: 'node-a', fault: { kind: 'status', status: 400, message: 'a is malformed' } },
      { match: 'node-slow', fault: { kind: 'latency', ttftMs: 6000 } },
    ]);
    const handle = await h.start('runDag', {
      onFailure: 'fail-fast',
      nodes: [
        { id: 'a', prompt: 'node-a' },
        { id: 'slow', prompt: 'node-slow' },
        { id: 'after', prompt: 'node-after {{slow}}', dependsOn: ['slow'] },
      ],
    });
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.cause?.message).toContain('Node "a" failed');
    expect(req('node-slow').aborted).toBe(true);
    expect(h.llm.countMatching('node-after')).toBe(0);
  });

  test.each([
    [
      {
        nodes: [
          { id: 'a', prompt: 'x', dependsOn: ['c'] },
          { id: 'b', prompt: 'y', dependsOn: ['a'] },
          { id: 'c', prompt: 'z', dependsOn: ['b'] },
        ],
      },
      'cycle: a → c → b → a',
    ],
    [{ nodes: [{ id: 'a', prompt: 'x', dependsOn: ['zz'] }] }, 'node "a" depends on unknown node "zz"'],
    [
      {
        nodes: [
          { id: 'a', prompt: 'x' },
          { id: 'a', prompt: 'y' },
        ],
      },
      'duplicate node ids: a',
    ],
    [{ nodes: [{ id: 'a', prompt: 'x', dependsOn: ['a'] }] }, 'node "a" depends on itself'],
    [{ nodes: [] }, 'nodes: must not be empty'],
    [
      {
        nodes: [
          { id: 'a', prompt: 'x' },
          { id: 'b', prompt: 'uses {{q}}', dependsOn: ['a'] },
        ],
      },
      'node "b" uses {{q}} but does not depend on "q"',
    ],
  ])('invalid spec %# fails with its message and no LLM call', async (spec, message) => {
    const handle = await h.start('runDag', spec);
    const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.cause?.message).toContain(message);
    expect(h.llm.stats().calls).toBe(0);
  });

  test('under a concurrency cap, ready nodes start critical-path-first', async () => {
    const r = await h.run<DagResult>('runDag', {
      maxConcurrent: 1,
      nodes: [
        { id: 's1', prompt: 'node-s1' },
        { id: 's2', prompt: 'node-s2' },
        { id: 'x1', prompt: 'node-x1' },
        { id: 'x2', prompt: 'node-x2', dependsOn: ['x1'] },
        { id: 'x3', prompt: 'node-x3', dependsOn: ['x2'] },
      ],
    });
    expect(r.stats.succeeded).toBe(5);
    const order = h.llm.stats().requests.map((q) => q.prompt);
    // FIFO would start s1 and s2 first; the chain x1 → x2 → x3 is longer, so it goes first
    // until remaining path lengths tie (all 1), where ids decide.
    expect(order).toEqual(['node-x1', 'node-x2', 'node-s1', 'node-s2', 'node-x3']);
    expect(h.llm.stats().maxInFlight).toBe(1);
  });

  test('a CPU-heavy tool node runs off the LLM path: LLM calls keep their latency meanwhile', async () => {
    // Tools read only under DOCUMENT_ROOTS: the harness's documents folder.
    const dir = fs.mkdtempSync(path.join(h.documentsDir, 'docs-'));
    const file = path.join(dir, 'corpus.txt');
    const sentence = 'Temporal workflows orchestrate durable agents while activities call the model. ';
    fs.writeFileSync(file, sentence.repeat(400_000)); // ~32 MB: seconds of CPU
    h.llm.setLatency({ ttftMs: 200 });
    const llmNodes = Array.from({ length: 8 }, (_, i) => ({ id: `q${i}`, prompt: `node-q${i}`, dependsOn: i ? [`q${i - 1}`] : [] }));
    const r = await h.run<DagResult>('runDag', {
      nodes: [{ id: 'stats', tool: { name: 'document-stats', files: [file] } }, ...llmNodes, { id: 'use', prompt: 'summarise {{stats}}', dependsOn: ['stats'] }],
    });
    const stats = r.results.find((x) => x.taskId === 'stats')!;
    expect(stats.state).toBe('succeeded');
    expect(stats.output).toContain('Total words: 4000000');
    expect(stats.output).toMatch(/Top terms: .*temporal \(400000\)/);
    const llm = r.results.filter((x) => x.taskId.startsWith('q'));
    // The chain of LLM calls ran while the tool computed; none of them was stalled by it.
    expect(Math.max(...llm.map((x) => x.durationMs))).toBeLessThan(stats.durationMs / 2);
    expect(h.llm.stats().requests.find((q) => q.prompt.startsWith('summarise'))!.prompt).toContain('Total words: 4000000');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a tool node cannot read outside DOCUMENT_ROOTS: fails at once (no retry), names the allowed folder; dependents skipped', async () => {
    fs.writeFileSync(path.join(h.documentsDir, 'ok.txt'), 'allowed words here');
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'outside-'));
    fs.writeFileSync(path.join(outside, 'secret.txt'), 'secret');
    fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(h.documentsDir, 'link.txt'));
    const r = await h.run<DagResult>('runDag', {
      onFailure: 'skip-dependents',
      nodes: [
        { id: 'ok', tool: { name: 'document-stats', files: ['ok.txt'] } },
        { id: 'etc', tool: { name: 'document-stats', files: ['/etc/passwd'] } },
        { id: 'dots', tool: { name: 'document-stats', files: ['../../../../etc/hostname'] } },
        { id: 'link', tool: { name: 'document-stats', files: ['link.txt'] } },
        { id: 'use', prompt: 'use {{etc}}', dependsOn: ['etc'] },
      ],
    });
    const by = Object.fromEntries(r.results.map((x) => [x.taskId, x]));
    expect(by.ok.state).toBe('succeeded');
    expect(by.ok.output).toContain('Total words: 3');
    for (const id of ['etc', 'dots', 'link']) {
      expect(by[id]).toMatchObject({ state: 'failed', errorType: 'ToolInputError', attempts: 1 });
      expect(by[id].error).toContain('outside the folders tools may read');
      expect(by[id].error).toContain(h.documentsDir);
      expect(by[id].output).toBeNull();
    }
    expect(by.use.state).toBe('skipped');
    expect(h.llm.stats().calls).toBe(0);
    fs.rmSync(outside, { recursive: true, force: true });
  });
});
