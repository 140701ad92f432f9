/** The `runDag` workflow: LLM (and tool) nodes with dependencies, each started the moment its dependencies succeed. */
import { CancellationScope, setHandler } from '@temporalio/workflow';
import { fillPlaceholders, validateDag, type DagParams, type DagSpec } from '../core/dag';
import { ProgressTracker } from '../core/progress';
import { computeStats, type DagStats } from '../core/tasks';
import { progressQuery } from '../protocol';
import { executeGraph, type ExecNode, type NodeResult } from './lib/graph';
import { installStream } from './lib/stream';
import { checkAgentTools } from './lib/agent-task';
import { validateOrFail } from './lib/validate';

/** Result of a DAG run: every node, in spec order. */
export interface DagResult {
  name?: string;
  results: NodeResult[];
  stats: DagStats;
  cancelled: boolean;
}

/** Turns validated spec nodes into executable nodes whose prompts quote their dependencies' outputs. */
export function specToExecNodes(spec: DagSpec): ExecNode[] {
  return spec.nodes.map((n) => ({
    id: n.id,
    name: n.name ?? n.id,
    dependsOn: n.dependsOn ?? [],
    weight: n.estimatedMs,
    build: (deps) => {
      const outputs = Object.fromEntries(Object.entries(deps).map(([id, r]) => [id, r.output ?? '']));
      if (n.tool) return { kind: 'tool', tool: n.tool, summary: `${n.tool.name}: ${n.name ?? n.id}` };
      const prompt = fillPlaceholders(n.prompt!, outputs);
      const system = n.system === undefined ? undefined : fillPlaceholders(n.system, outputs);
      if (n.agent) return { kind: 'agent', prompt, system, model: n.model, maxTokens: n.maxTokens, agent: n.agent };
      return {
        kind: 'llm',
        prompt,
        system,
        model: n.model,
        maxTokens: n.maxTokens,
        summary: n.name ?? n.id,
      };
    },
  }));
}

/** Runs a DAG spec with dependency-aware parallelism, skip or fail-fast on failure, critical-path-first under a cap. */
export async function runDag(rawSpec: DagParams): Promise<DagResult> {
  const started = Date.now();
  const spec = validateOrFail(() => validateDag(rawSpec));
  const progress = new ProgressTracker();
  setHandler(progressQuery, () => progress.snapshot());
  if (spec.stream) installStream();
  const nodes = specToExecNodes(spec);
  for (const n of nodes) progress.add(n.id, n.name);
  await checkAgentTools(spec.nodes, spec);
  const outcome = await executeGraph(nodes, { ...spec, progress });
  progress.done = true;
  return {
    name: spec.name,
    results: outcome.results,
    stats: { ...computeStats(outcome.results, Date.now() - started), criticalPath: outcome.criticalPath, idealMakespanMs: outcome.idealMakespanMs },
    cancelled: CancellationScope.current().consideredCancelled,
  };
}
