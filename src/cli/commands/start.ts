/** The commands that start a run: fanout, dag, decompose, pipeline, intel. Inputs are validated here first, so a bad file never starts a run. */
import { type Command, Option } from 'commander';
import { InvalidInputError, parseOrThrow, validateFanOutInput, type FanOutInput } from '../../core/tasks';
import { RUN_WORKFLOW_TYPES as T } from '../../core/names';
import type { competitiveIntel, decomposeAndSynthesize, fanOut, pipeline, runDag } from '../../workflows';
import type { Runner } from '../context';
import { UserError, positiveInt, readJsonFile } from '../inputs';
import { renderIntel, resultsTable, statsLines } from '../render';
import { startAndReport, type StartOptions } from '../run';

/** Reads the tasks file of `fanout`: a list of tasks, or an object with `tasks` and options. */
function fanOutInputFromFile(file: string, o: { maxConcurrent?: number; failFast?: boolean; model?: string; stream?: boolean }): FanOutInput {
  const raw = readJsonFile(file);
  const base = Array.isArray(raw) ? { tasks: raw } : raw;
  if (typeof base !== 'object' || base === null) throw new UserError(`${file} must hold a list of tasks or an object with "tasks"`);
  const input = {
    ...base,
    ...(o.maxConcurrent !== undefined ? { maxConcurrent: o.maxConcurrent } : {}),
    ...(o.failFast ? { failFast: true } : {}),
    ...(o.model ? { model: o.model } : {}),
    ...(o.stream ? { stream: true } : {}),
  };
  try {
    return validateFanOutInput(input).input;
  } catch (err) {
    if (err instanceof InvalidInputError) throw new UserError(`${file}: ${err.message}`);
    throw err;
  }
}

/** Applies CLI overrides (flags win over the file). */
function withOverrides(raw: unknown, o: { maxConcurrent?: number; model?: string; onFailure?: string; stopOnStageFailure?: boolean; stream?: boolean }): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError('the spec must be a JSON object');
  const out: Record<string, unknown> = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
  if (o.maxConcurrent !== undefined) out.maxConcurrent = o.maxConcurrent;
  if (o.model) out.model = o.model;
  if (o.onFailure) out.onFailure = o.onFailure;
  if (o.stopOnStageFailure) out.stopOnStageFailure = true;
  if (o.stream) out.stream = true;
  return out;
}

/** `--stream` prints text as it arrives: it needs a run to wait for and stdout to itself. */
function checkStream(o: StartOptions): void {
  if (!o.stream) return;
  if (o.json) throw new UserError('--stream prints the text as it arrives; it cannot be combined with --json');
  if (o.wait === false) throw new UserError('--stream follows the run while it goes; it cannot be combined with --no-wait');
}

/** The `--stream` option of the commands whose runs can stream. */
function streamOption(): Option {
  return new Option('--stream', "print each call's text as it arrives (the run streams: stream: true)");
}

/** The `--max-concurrent` option every start command takes. */
function maxConcurrentOption(): Option {
  return new Option('--max-concurrent <n>', 'at most n calls in flight').argParser(positiveInt('--max-concurrent'));
}

/** A workflow id prefix that names the spec, e.g. `dag-market-entry`. */
function idPrefix(kind: string, name: string | undefined): string {
  return `${kind}-${(name ?? 'spec')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 30)}`;
}

/** Runs a validator; its InvalidInputError becomes a UserError naming the source. */
function checked<T>(source: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InvalidInputError) throw new UserError(`${source}: ${err.message}`);
    throw err;
  }
}

/** Adds the start commands to the program. */
export function addStartCommands(p: Command, run: Runner): void {
  const startOpts = (c: Command) =>
    c
      .option('--json', 'print only the final result as JSON (for scripts)')
      .option('--id <workflowId>', 'workflow id to use (default: generated)')
      .option('--no-wait', 'start the run and return without waiting');

  startOpts(
    p
      .command('fanout <tasks.json>')
      .description('run independent LLM tasks in parallel (file: a list of {name, prompt, system?} or {tasks, maxConcurrent, ...})')
      .addOption(maxConcurrentOption())
      .option('--fail-fast', 'on the first permanent failure cancel the rest and fail the run')
      .option('--model <model>', 'model for every task without its own')
      .addOption(streamOption()),
  ).action(async (file: string, o: StartOptions & { maxConcurrent?: number; failFast?: boolean; model?: string }) => {
    checkStream(o);
    const input = fanOutInputFromFile(file, o);
    await run((ctx) => startAndReport<typeof fanOut>(ctx, T.fanOut, input, 'fanout', o));
  });

  startOpts(
    p
      .command('dag <spec.json>')
      .description('run LLM nodes with dependencies; each starts when its dependencies succeed ({nodes:[{id, prompt, dependsOn}]})')
      .addOption(maxConcurrentOption())
      .addOption(new Option('--on-failure <mode>', 'what a failed node does to the rest').choices(['skip-dependents', 'fail-fast']))
      .option('--model <model>', 'model for every node without its own')
      .addOption(streamOption()),
  ).action(async (file: string, o: StartOptions & { maxConcurrent?: number; onFailure?: string; model?: string }) => {
    checkStream(o);
    // Each command loads its own validator: the others' schemas cost every start-up otherwise.
    const { validateDag } = await import('../../core/dag');
    const spec = checked(file, () => validateDag(withOverrides(readJsonFile(file), o)));
    await run((ctx) => startAndReport<typeof runDag>(ctx, T.runDag, spec, idPrefix('dag', spec.name), o));
  });

  startOpts(
    p
      .command('decompose <task>')
      .description('let the LLM split a task into subtasks, run them in parallel, and synthesise the results')
      .addOption(new Option('--subtasks <n>', 'how many subtasks to ask for (default 4)').argParser(positiveInt('--subtasks')))
      .addOption(maxConcurrentOption())
      .option('--model <model>', 'model for every call'),
  ).action(async (task: string, o: StartOptions & { subtasks?: number; maxConcurrent?: number; model?: string }) => {
    const { decomposeInputSchema } = await import('../../core/decompose');
    const input = checked('decompose', () => parseOrThrow(decomposeInputSchema, withOverrides({ task, subtasks: o.subtasks }, o), 'decompose input'));
    await run((ctx) =>
      startAndReport<typeof decomposeAndSynthesize>(ctx, T.decomposeAndSynthesize, input, 'decompose', o, (r) => {
        const d = r.decomposition;
        const synthesis = r.synthesis;
        return `${resultsTable(r.results)}\n${statsLines(r.stats)}\ndecomposition: ${d.method}${d.problems.length ? ` (${d.problems.join('; ')})` : ''}\n\n${synthesis.output ?? `no synthesis: ${synthesis.error}`}`;
      }),
    );
  });

  startOpts(
    p
      .command('pipeline <spec.json>')
      .description('run stages in order, tasks within a stage in parallel ({stages:[{name, tasks:[{id, prompt}]}]})')
      .addOption(maxConcurrentOption())
      .option('--stop-on-stage-failure', 'stop after a stage in which a task failed')
      .option('--model <model>', 'model for every task without its own'),
  ).action(async (file: string, o: StartOptions & { maxConcurrent?: number; stopOnStageFailure?: boolean; model?: string }) => {
    const { validatePipeline } = await import('../../core/pipeline');
    const spec = checked(file, () => validatePipeline(withOverrides(readJsonFile(file), o)));
    await run((ctx) => startAndReport<typeof pipeline>(ctx, T.pipeline, spec, idPrefix('pipeline', spec.name), o));
  });

  startOpts(
    p
      .command('intel')
      .description('competitive intelligence: research each company, analyse it, then compare (writes runs/<id>/report.md)')
      .option('--companies <list>', 'comma-separated company names (default: 12 AI companies)')
      .option('--agents', 'research each company with an agent using search_documents and read_document over DOCUMENTS_DIR')
      .addOption(streamOption())
      .addOption(maxConcurrentOption())
      .option('--model <model>', 'model for every call'),
  ).action(async (o: StartOptions & { companies?: string; maxConcurrent?: number; model?: string; agents?: boolean }) => {
    checkStream(o);
    const { validateIntelInput } = await import('../../core/intel');
    const companies = o.companies?.split(',').map((c) => c.trim());
    const input = checked('intel', () => {
      const i = withOverrides({ companies, ...(o.agents ? { agents: true } : {}), ...(o.stream ? { stream: true } : {}) }, o);
      validateIntelInput(i);
      return i;
    });
    await run((ctx) => startAndReport<typeof competitiveIntel>(ctx, T.competitiveIntel, input, 'intel', o, renderIntel, undefined, { scenario: 'competitive-intel' }));
  });
}
