// The project's workflows file: the package's workflows (fanOut, runDag, pipeline, …, the limiter)
// beside a workflow of its own, built from the package's workflow-safe building blocks.
import { proxyActivities } from '@temporalio/workflow';
import { executeGraph, type ExecNode, type NodeResult } from 'durable-agents/workflow';
import type * as myActivities from './activities';

export * from 'durable-agents/workflows';

const { wordCount } = proxyActivities<typeof myActivities>({ startToCloseTimeout: '1 minute' });

/** Two LLM drafts in parallel, the package's document-stats tool over both, one verdict, then an activity of our own. */
export async function draftAndJudge(input: { topic: string }): Promise<{ verdict: string | null; words: number; results: NodeResult[] }> {
  const nodes: ExecNode[] = [
    { id: 'draft-a', name: 'draft A', dependsOn: [], build: () => ({ kind: 'llm', prompt: `Write draft A about ${input.topic}` }) },
    { id: 'draft-b', name: 'draft B', dependsOn: [], build: () => ({ kind: 'llm', prompt: `Write draft B about ${input.topic}` }) },
    {
      id: 'stats',
      name: 'document stats',
      dependsOn: ['draft-a', 'draft-b'],
      build: (deps) => ({ kind: 'tool', tool: { name: 'document-stats', documents: Object.values(deps).map((d) => ({ name: d.taskId, text: d.output ?? '' })) } }),
    },
    { id: 'judge', name: 'judge', dependsOn: ['stats'], build: (deps) => ({ kind: 'llm', prompt: `Pick the better draft given: ${deps.stats.output}` }) },
  ];
  const { results } = await executeGraph(nodes, { maxConcurrent: 2, policy: { llm: { attemptTimeoutMs: 60_000 } } });
  const verdict = results.find((r) => r.taskId === 'judge')?.output ?? null;
  return { verdict, words: await wordCount(verdict ?? ''), results };
}
