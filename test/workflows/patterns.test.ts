/** decomposeAndSynthesize, pipeline and competitiveIntel on the real dev server. */
import fs from 'node:fs';
import { type WorkflowFailedError } from '@temporalio/client';
import type { IntelResult } from '../../src/workflows/competitive-intel';
import type { DecomposeResult } from '../../src/workflows/decompose';
import type { PipelineResult } from '../../src/workflows/pipeline';
import { sharedHarness } from '../helpers/harness';

describe('patterns', () => {
  const h = sharedHarness({ llm: { ttftMs: 50, perTokenMs: 0, outputTokens: 15 } });

  describe('decomposeAndSynthesize', () => {
    test('splits into N subtasks, runs them in parallel and synthesises every result', async () => {
      const r = await h.run<DecomposeResult>('decomposeAndSynthesize', { task: 'Compare cloud GPU providers', subtasks: 3 });
      expect(r.decomposition).toEqual({ method: 'llm', problems: [] });
      expect(r.subtasks).toHaveLength(3);
      expect(r.results.map((x) => x.group)).toEqual(['decompose', 'subtask', 'subtask', 'subtask', 'synthesize']);
      expect(r.synthesis.success).toBe(true);
      for (const s of r.subtasks) expect(h.llm.countMatching(`## Subtask ${r.subtasks.indexOf(s) + 1}: ${s.name}\n`)).toBe(1);
      expect(r.stats).toMatchObject({ total: 5, succeeded: 5 });
    });

    test('malformed decomposition: one corrective retry that works', async () => {
      h.llm.setFaults([{ match: 'Split the following task', times: 1, fault: { kind: 'text', text: 'Sure! Here are some ideas: research, compare.' } }]);
      const r = await h.run<DecomposeResult>('decomposeAndSynthesize', { task: 'Plan a launch', subtasks: 2 });
      expect(r.decomposition.method).toBe('corrected');
      expect(r.decomposition.problems[0]).toContain('no JSON object found');
      expect(r.subtasks).toHaveLength(2);
      expect(h.llm.countMatching('Your previous reply could not be used')).toBe(1);
    });

    test('malformed twice: falls back to the whole task as one subtask and says so', async () => {
      h.llm.setFaults([{ match: 'Split the following task', fault: { kind: 'text', text: '{"subtasks": "not a list"}' } }]);
      const r = await h.run<DecomposeResult>('decomposeAndSynthesize', { task: 'Plan a launch', subtasks: 2 });
      expect(r.decomposition.method).toBe('fallback');
      expect(r.decomposition.problems).toHaveLength(2);
      expect(r.subtasks).toEqual([{ name: 'whole task', prompt: 'Plan a launch' }]);
      expect(r.synthesis.success).toBe(true);
    });

    test('a failed subtask is named to the synthesis, not hidden', async () => {
      h.llm.setFaults([{ match: 'Part 2 of 3', fault: { kind: 'status', status: 400, message: 'subtask too vague' } }]);
      const r = await h.run<DecomposeResult>('decomposeAndSynthesize', { task: 'Write a market memo', subtasks: 3 });
      const failed = r.results.filter((x) => x.state === 'failed');
      expect(failed).toHaveLength(1);
      expect(failed[0].group).toBe('subtask');
      expect(r.synthesis.success).toBe(true);
      expect(h.llm.countMatching(`## Subtask 2: ${failed[0].name}\nFAILED (BadRequest)`)).toBe(1);
      expect(h.llm.countMatching(`These subtasks failed and have no result: ${failed[0].name}`)).toBe(1);
    });
  });

  describe('pipeline', () => {
    test('stages run in order and pass outputs forward by placeholder', async () => {
      const r = await h.run<PipelineResult>('pipeline', {
        stages: [
          {
            name: 'gather',
            tasks: [
              { id: 'g1', prompt: 'gather one' },
              { id: 'g2', prompt: 'gather two' },
            ],
          },
          {
            name: 'refine',
            tasks: [
              { id: 'r1', prompt: 'refine [{{g1}}]' },
              { id: 'all', prompt: 'combine {{previous}}' },
            ],
          },
        ],
      });
      expect(r.stages.map((s) => s.stats.succeeded)).toEqual([2, 2]);
      const g1 = r.results.find((x) => x.taskId === 'g1')!.output!;
      const g2 = r.results.find((x) => x.taskId === 'g2')!.output!;
      const reqs = h.llm.stats().requests;
      expect(reqs.find((q) => q.prompt.startsWith('refine'))!.prompt).toBe(`refine [${g1}]`);
      const combine = reqs.find((q) => q.prompt.startsWith('combine'))!;
      expect(combine.prompt).toContain(g1.slice(0, 40));
      expect(combine.prompt).toContain(g2.slice(0, 40));
      // Every stage-2 call arrived after every stage-1 call finished.
      const lastStage1 = Math.max(...reqs.filter((q) => q.prompt.startsWith('gather')).map((q) => q.finishedAt!));
      expect(Math.min(...reqs.filter((q) => !q.prompt.startsWith('gather')).map((q) => q.receivedAt))).toBeGreaterThanOrEqual(lastStage1);
    });

    test('stopOnStageFailure stops after a stage with failures and reports the rest as skipped', async () => {
      h.llm.setFaults([{ match: 'gather two', fault: { kind: 'status', status: 400, message: 'nope' } }]);
      const r = await h.run<PipelineResult>('pipeline', {
        stopOnStageFailure: true,
        stages: [
          {
            name: 'gather',
            tasks: [
              { id: 'g1', prompt: 'gather one' },
              { id: 'g2', prompt: 'gather two' },
            ],
          },
          { name: 'refine', tasks: [{ id: 'r1', prompt: 'refine {{g1}}' }] },
        ],
      });
      expect(r.stoppedAfter).toBe('gather');
      expect(r.stages[1].results[0]).toMatchObject({ state: 'skipped' });
      expect(r.stages[1].results[0].error).toContain('stopped after stage "gather"');
      expect(h.llm.countMatching('refine')).toBe(0);
    });

    test('an invalid placeholder is rejected before any call', async () => {
      const handle = await h.start('pipeline', {
        stages: [
          { name: 's1', tasks: [{ id: 'a', prompt: 'x' }] },
          { name: 's2', tasks: [{ id: 'b', prompt: 'use {{zz}}' }] },
        ],
      });
      const err = (await handle.result().catch((e: unknown) => e)) as WorkflowFailedError;
      expect(err.cause?.message).toContain('task "b" uses {{zz}}, which is not a task of the previous stage "s1"');
      expect(h.llm.stats().calls).toBe(0);
    });
  });

  describe('competitiveIntel', () => {
    test('2 of 12 companies failing: report written, the summary names the missing two', async () => {
      h.llm.setFaults([
        { match: 'Research Cohere', fault: { kind: 'status', status: 400, message: 'blocked topic' } },
        { match: 'Research xAI', fault: { kind: 'status', status: 403, message: 'no access' } },
      ]);
      const handle = await h.start('competitiveIntel', {});
      const r = (await handle.result()) as IntelResult;
      expect(r.companies).toHaveLength(12);
      expect(r.missing.map((m) => m.company).sort()).toEqual(['Cohere', 'xAI']);
      expect(r.summary?.success).toBe(true);
      const summaryPrompt = h.llm.stats().requests.find((q) => q.prompt.startsWith('Write a comparative summary'))!;
      expect(summaryPrompt.prompt).toContain('of these 10 companies');
      expect(h.llm.countMatching('No analysis is available for: Cohere, xAI')).toBe(1);
      expect(r.stats).toMatchObject({ total: 25, succeeded: 21, failed: 2, skipped: 2 });
      expect(r.reportPath).toBe(`${h.runsDir}/${handle.workflowId}/report.md`);
      const report = fs.readFileSync(r.reportPath!, 'utf8');
      expect(report).toContain('## Comparative summary');
      expect(report).toContain('- Cohere:');
      expect(report).toContain('| research | Cohere | failed |');
      expect(report).toMatch(/- speedup \(sum \/ wall\): [\d.]+x/);
    });

    test('analysis of a company starts as soon as its own research is done, not after the slowest research', async () => {
      h.llm.setFaults([{ match: 'Research OpenAI', fault: { kind: 'latency', ttftMs: 2000 } }]);
      const r = await h.run<IntelResult>('competitiveIntel', { companies: ['Anthropic', 'OpenAI'], writeReport: false });
      expect(r.stats.succeeded).toBe(5);
      const reqs = h.llm.stats().requests;
      const analyzeAnthropic = reqs.find((q) => q.prompt.startsWith("Analyze Anthropic's"))!;
      const researchOpenAI = reqs.find((q) => q.prompt.startsWith('Research OpenAI'))!;
      expect(analyzeAnthropic.receivedAt).toBeLessThan(researchOpenAI.finishedAt!);
      expect(r.reportPath).toBeNull();
    });
  });
});
