/**
 * The `competitiveIntel` workflow, the seed's scenario made durable: research every company in
 * parallel, analyse each company as soon as its own research is done (a DAG per company, no
 * barrier between stages), then one comparative summary over every analysis that succeeded,
 * naming the companies that are missing. Writes runs/<workflowId>/report.md. With `agents`, each
 * company's research is an agent (a child workflow) using the document tools.
 */
import { CancellationScope, setHandler, upsertMemo, workflowInfo } from '@temporalio/workflow';
import {
  ANALYSIS_SYSTEM,
  RESEARCH_SYSTEM,
  SUMMARY_SYSTEM,
  agentResearchPrompt,
  analysisPrompt,
  companySlug,
  renderIntelReport,
  researchAgent,
  researchPrompt,
  summaryPrompt,
  validateIntelInput,
  type IntelParams,
} from '../core/intel';
import { ProgressTracker } from '../core/progress';
import { computeStats, type DagStats } from '../core/tasks';
import { progressQuery } from '../protocol';
import { checkAgentTools } from './lib/agent-task';
import { executeGraph, type ExecNode, type NodeResult } from './lib/graph';
import { toolActivities } from './lib/tool-task';
import { installStream } from './lib/stream';
import { validateOrFail } from './lib/validate';

/** Result of an intel run. */
export interface IntelResult {
  companies: string[];
  /** Every call (research, analysis, summary), with `group` and `company`. */
  results: (NodeResult & { company?: string })[];
  summary: NodeResult | undefined;
  /** Companies the summary does not cover, with why. */
  missing: { company: string; reason: string }[];
  stats: DagStats;
  reportPath: string | null;
  cancelled: boolean;
}

/** Researches, analyses and compares companies with stage-overlapping parallelism. */
export async function competitiveIntel(rawInput: IntelParams): Promise<IntelResult> {
  const started = Date.now();
  const input = validateOrFail(() => validateIntelInput(rawInput));
  const { companies } = input;
  upsertMemo({ scenario: 'competitive-intel', companies: companies.length });
  const progress = new ProgressTracker();
  setHandler(progressQuery, () => progress.snapshot());
  if (input.stream) installStream();

  const agent = researchAgent(input);
  const companyOf = new Map<string, string>();
  const nodes: ExecNode[] = [];
  for (const c of companies) {
    const slug = companySlug(c);
    companyOf.set(`research-${slug}`, c).set(`analyze-${slug}`, c);
    nodes.push({
      id: `research-${slug}`,
      name: c,
      group: 'research',
      dependsOn: [],
      build: () =>
        agent
          ? { kind: 'agent', prompt: agentResearchPrompt(c), system: RESEARCH_SYSTEM, agent }
          : { kind: 'llm', prompt: researchPrompt(c), system: RESEARCH_SYSTEM, summary: `research: ${c}` },
    });
    nodes.push({
      id: `analyze-${slug}`,
      name: c,
      group: 'analysis',
      dependsOn: [`research-${slug}`],
      build: (deps) => ({ kind: 'llm', prompt: analysisPrompt(c, deps[`research-${slug}`].output ?? ''), system: ANALYSIS_SYSTEM, summary: `analyze: ${c}` }),
    });
  }
  const missing: { company: string; reason: string }[] = [];
  nodes.push({
    id: 'summary',
    name: 'comparative summary',
    group: 'summary',
    dependsOn: companies.map((c) => `analyze-${companySlug(c)}`),
    tolerateFailedDeps: true,
    build: (deps) => {
      const analyses: { company: string; analysis: string }[] = [];
      for (const c of companies) {
        const a = deps[`analyze-${companySlug(c)}`];
        if (a.success) analyses.push({ company: c, analysis: a.output ?? '' });
        else missing.push({ company: c, reason: a.error ?? a.state });
      }
      if (!analyses.length) return { kind: 'skip', reason: 'skipped: no company analysis succeeded' };
      return { kind: 'llm', prompt: summaryPrompt(analyses, missing), system: SUMMARY_SYSTEM, summary: 'summary' };
    },
  });
  for (const n of nodes) progress.add(n.id, n.name, n.group);
  if (agent) await checkAgentTools([{ agent }], input);

  const outcome = await executeGraph(nodes, { ...input, maxConcurrent: input.maxConcurrent ?? Math.min(1000, 2 * companies.length + 1), progress });
  const results = outcome.results.map((r) => ({ ...r, company: companyOf.get(r.taskId) }));
  const summary = results.find((r) => r.taskId === 'summary');
  const stats = { ...computeStats(results, Date.now() - started), criticalPath: outcome.criticalPath, idealMakespanMs: outcome.idealMakespanMs };

  let reportPath: string | null = null;
  if (input.writeReport !== false && !CancellationScope.current().consideredCancelled) {
    progress.phase = 'report';
    const { workflowId } = workflowInfo();
    const content = renderIntelReport({ workflowId, companies, results, summary, missing, stats, finishedAt: new Date(Date.now()).toISOString() });
    reportPath = await toolActivities({ startToCloseTimeoutMs: 60_000, retry: { maximumAttempts: 5 } }, input.toolTaskQueue).writeRunFile.executeWithOptions(
      { summary: 'write report.md' },
      [{ workflowId, file: 'report.md', content }],
    );
  }
  upsertMemo({ succeeded: stats.succeeded, failed: stats.failed, skipped: stats.skipped });
  progress.done = true;
  return { companies, results, summary, missing, stats, reportPath, cancelled: CancellationScope.current().consideredCancelled };
}
