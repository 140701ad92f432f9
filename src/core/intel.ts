/**
 * The competitive-intelligence scenario: input, prompts, and the Markdown report. Pure.
 */
import { z } from 'zod';
import { agentOptionsSchema, type AgentOptions } from './agent-options';
import { DEFAULT_COMPANIES } from './companies';
import { formatIssues, maxConcurrentSchema, nonEmptyList, nonEmptyString } from './schema';
import { InvalidInputError, callOptionsSchema, duplicates, type DagStats, type TaskResult } from './tasks';

/** Input of `competitiveIntel`. */
export const intelInputSchema = callOptionsSchema.extend({
  companies: nonEmptyList(nonEmptyString(100), 'company names').max(200, 'must be at most 200 companies').optional(),
  maxConcurrent: maxConcurrentSchema.optional(),
  /** Write runs/<workflowId>/report.md (default true). */
  writeReport: z.boolean().optional(),
  /**
   * Research each company with an agent using the document tools (`true`: search_documents and
   * read_document over the tools worker's DOCUMENTS_DIR, at most 4 turns) instead of one call.
   */
  agents: z.union([z.boolean(), agentOptionsSchema]).optional(),
});
export type IntelInput = z.infer<typeof intelInputSchema>;
/** What a caller passes to `competitiveIntel` (validated inside the workflow). */
export type IntelParams = z.input<typeof intelInputSchema>;

/** Validates the input and fills defaults. */
export function validateIntelInput(input: unknown): IntelInput & { companies: string[] } {
  const r = intelInputSchema.safeParse(input ?? {});
  if (!r.success) throw new InvalidInputError(`Invalid intel input: ${formatIssues(r.error)}`);
  const companies = r.data.companies ?? [...DEFAULT_COMPANIES];
  const dup = duplicates(companies.map((c) => c.toLowerCase()));
  if (dup.length) throw new InvalidInputError(`Invalid intel input: duplicate companies: ${dup.join(', ')}`);
  return { ...r.data, companies };
}

/** A DAG-safe id for a company. */
export function companySlug(company: string): string {
  return (
    company
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'company'
  );
}

export const RESEARCH_SYSTEM = 'You are a market research analyst. Be concise and factual; say when you are unsure.';
export const ANALYSIS_SYSTEM = 'You are a strategy analyst. Assess competitive position from the research given.';
export const SUMMARY_SYSTEM = 'You write comparative summaries for executives. Compare, rank, and name gaps in the data.';

/** Research prompt for one company. */
export function researchPrompt(company: string): string {
  return `Research ${company}: products, market position, recent developments, funding, key people.`;
}

/** The research agent of `agents: true`. */
export const DEFAULT_RESEARCH_AGENT: AgentOptions = { tools: ['search_documents', 'read_document'], maxTurns: 4 };

/** The research agent an input asks for, if any. */
export function researchAgent(input: Pick<IntelInput, 'agents'>): AgentOptions | undefined {
  return input.agents === true ? DEFAULT_RESEARCH_AGENT : input.agents || undefined;
}

/** Research prompt for an agent with document tools: find facts, then report them. */
export function agentResearchPrompt(company: string): string {
  return `Research ${company} in the documents: search for ${company}, read what is relevant, then report its products, market position, recent developments, funding and key people, quoting the facts you found and naming the documents.`;
}

/** Analysis prompt from the company's own research. */
export function analysisPrompt(company: string, research: string): string {
  return `Analyze ${company}'s strengths, weaknesses, opportunities and threats from this research:\n\n${research}`;
}

/** Summary prompt from every analysis that succeeded; missing companies are named with why. */
export function summaryPrompt(analyses: { company: string; analysis: string }[], missing: { company: string; reason: string }[]): string {
  const body = analyses.map((a) => `## ${a.company}\n${a.analysis}`).join('\n\n');
  const gaps = missing.length ? `\n\nNo analysis is available for: ${missing.map((m) => m.company).join(', ')}. Say so in the summary; do not invent data for them.` : '';
  return `Write a comparative summary of these ${analyses.length} companies.\n\n${body}${gaps}`;
}

/** Everything the report shows. */
export interface IntelReportInput {
  workflowId: string;
  companies: string[];
  results: (TaskResult & { group?: string; company?: string })[];
  summary: TaskResult | undefined;
  missing: { company: string; reason: string }[];
  stats: DagStats;
  finishedAt: string;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\s+/g, ' ').trim();
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Renders the Markdown report of an intel run. */
export function renderIntelReport(r: IntelReportInput): string {
  const byId = new Map(r.results.map((x) => [x.taskId, x]));
  const lines: string[] = [];
  lines.push(`# Competitive intelligence: ${r.companies.length} companies`, '');
  lines.push(`Run \`${r.workflowId}\`, finished ${r.finishedAt}.`, '');
  lines.push('## Comparative summary', '');
  lines.push(r.summary?.success ? (r.summary.output ?? '') : `_No summary: ${r.summary?.error ?? 'not run'}_`, '');
  if (r.missing.length) {
    lines.push('**Missing from the summary:**', '');
    for (const m of r.missing) lines.push(`- ${m.company}: ${m.reason}`);
    lines.push('');
  }
  lines.push('## Per-company findings', '');
  for (const c of r.companies) {
    const slug = companySlug(c);
    const research = byId.get(`research-${slug}`);
    const analysis = byId.get(`analyze-${slug}`);
    lines.push(`### ${c}`, '');
    if (research?.agent) {
      const a = research.agent;
      const tools = Object.entries(a.toolCalls).map(([t, n]) => `${t} ×${n}`);
      lines.push(
        `_Researched by agent \`${a.workflowId}\`: ${a.turns} turns, ${tools.join(', ') || 'no tool calls'}${a.toolErrors ? `, ${a.toolErrors} tool errors` : ''}, stopped by ${a.stoppedBy}._`,
        '',
      );
    }
    lines.push(`**Research.** ${research?.success ? research.output : `_${research?.state ?? 'not run'}: ${research?.error ?? ''}_`}`, '');
    lines.push(`**Analysis.** ${analysis?.success ? analysis.output : `_${analysis?.state ?? 'not run'}: ${analysis?.error ?? ''}_`}`, '');
  }
  lines.push('## Every call', '');
  lines.push('| stage | company | state | duration | attempts | tokens in | tokens out | est. cost | error |', '|---|---|---|---|---|---|---|---|---|');
  for (const x of r.results) {
    const cost = x.costUsd === undefined || x.costUsd === null ? '' : `$${x.costUsd.toFixed(4)}`;
    lines.push(
      `| ${x.group ?? ''} | ${cell(x.company ?? '')} | ${x.state}${x.cached ? ' (cached)' : ''} | ${secs(x.durationMs)} | ${x.attempts} | ${x.tokens.input} | ${x.tokens.output} | ${cost} | ${cell(x.error ?? '')} |`,
    );
  }
  lines.push('');
  const s = r.stats;
  lines.push('## Stats', '');
  lines.push(`- calls: ${s.total} (${s.succeeded} succeeded, ${s.failed} failed, ${s.skipped} skipped, ${s.cancelled} cancelled)`);
  lines.push(`- wall clock: ${secs(s.wallClockMs)}`);
  lines.push(`- sum of call durations: ${secs(s.sumDurationMs)}`);
  lines.push(`- speedup (sum / wall): ${s.speedup.toFixed(1)}x`);
  lines.push(`- ideal makespan (critical path ${s.criticalPath.join(' → ')}): ${secs(s.idealMakespanMs)}`);
  lines.push(`- tokens: ${s.tokens.input} in, ${s.tokens.output} out`);
  if (s.cacheHits) lines.push(`- cache: ${s.cacheHits} calls answered from cache, ${s.tokensSaved.input + s.tokensSaved.output} tokens saved`);
  lines.push(
    `- estimated cost: $${s.costUsd.toFixed(4)}${
      s.costByGroup
        ? ` (${Object.entries(s.costByGroup)
            .map(([g, c]) => `${g} $${c.toFixed(4)}`)
            .join(', ')})`
        : ''
    }`,
  );
  lines.push('');
  return lines.join('\n');
}
