/**
 * The CLI: `npm run client -- <command>`. Starts runs with live progress, and inspects, fetches
 * and cancels them. Inputs are validated here first, so a bad file never starts a run.
 *
 * Exit codes: 0 done, 1 failure (run failed, server unreachable), 2 bad usage or input,
 * 3 the run completed but some tasks failed.
 */
import { Command, CommanderError, Option } from 'commander';
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ConfigError, loadConfig, workflowUiLink, type Config } from '../config';
import { connectClient } from './connect';
import { UserError, positiveInt, readJsonFile } from './inputs';
import { renderIntel, resultsTable, statsLines } from './render';
import { startAndReport, type RunWorkflow, type StartOptions } from './run';
import { competitiveIntel, decomposeAndSynthesize, fanOut, pipeline, runDag } from '../workflows';
import { validateDag } from '../core/dag';
import { decomposeInputSchema } from '../core/decompose';
import { validateIntelInput } from '../core/intel';
import { validatePipeline } from '../core/pipeline';
import { InvalidInputError, parseOrThrow, validateFanOutInput, type FanOutInput } from '../core/tasks';
import { progressQuery } from '../protocol';
import { limiterStatusQuery } from '../protocol';
import { limiterWorkflowId } from '../core/names';
import { writeTimeline } from '../timeline';
import { FleetSize } from '../llm/fleet';
import { llmTaskQueue } from '../core/names';
import { readWorkerFlows, workerFlowLines } from './worker-flow';

/** Reads the tasks file of `fanout`: a list of tasks, or an object with `tasks` and options. */
function fanOutInputFromFile(file: string, o: { maxConcurrent?: number; failFast?: boolean; model?: string }): FanOutInput {
  const raw = readJsonFile(file);
  const base = Array.isArray(raw) ? { tasks: raw } : raw;
  if (typeof base !== 'object' || base === null) throw new UserError(`${file} must hold a list of tasks or an object with "tasks"`);
  const input = {
    ...base,
    ...(o.maxConcurrent !== undefined ? { maxConcurrent: o.maxConcurrent } : {}),
    ...(o.failFast ? { failFast: true } : {}),
    ...(o.model ? { model: o.model } : {}),
  };
  try {
    return validateFanOutInput(input).input;
  } catch (err) {
    if (err instanceof InvalidInputError) throw new UserError(`${file}: ${err.message}`);
    throw err;
  }
}

/** Applies CLI overrides (flags win over the file). */
function withOverrides(raw: unknown, o: { maxConcurrent?: number; model?: string; onFailure?: string; stopOnStageFailure?: boolean }): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new UserError('the spec must be a JSON object');
  const out: Record<string, unknown> = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
  if (o.maxConcurrent !== undefined) out.maxConcurrent = o.maxConcurrent;
  if (o.model) out.model = o.model;
  if (o.onFailure) out.onFailure = o.onFailure;
  if (o.stopOnStageFailure) out.stopOnStageFailure = true;
  return out;
}

/** The `--max-concurrent` option every start command takes. */
function maxConcurrentOption(): Option {
  return new Option('--max-concurrent <n>', 'at most n calls in flight').argParser(positiveInt('--max-concurrent'));
}

/** A workflow id prefix that names the spec, e.g. `dag-market-entry`. */
function idPrefix(kind: string, name: string | undefined): string {
  return `${kind}-${(name ?? 'spec').toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 30)}`;
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

/** Builds the commander program; `run` receives each action's work and owns connecting. */
function program(run: (work: (ctx: { client: Client; config: Config }) => Promise<number>) => Promise<void>): Command {
  const p = new Command('client')
    .description('Start and inspect durable parallel LLM runs on Temporal')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

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
      .option('--model <model>', 'model for every task without its own'),
  ).action(async (file: string, o: StartOptions & { maxConcurrent?: number; failFast?: boolean; model?: string }) => {
    const input = fanOutInputFromFile(file, o);
    await run((ctx) => startAndReport(ctx, fanOut, input, 'fanout', o));
  });

  startOpts(
    p
      .command('dag <spec.json>')
      .description('run LLM nodes with dependencies; each starts when its dependencies succeed ({nodes:[{id, prompt, dependsOn}]})')
      .addOption(maxConcurrentOption())
      .addOption(new Option('--on-failure <mode>', 'what a failed node does to the rest').choices(['skip-dependents', 'fail-fast']))
      .option('--model <model>', 'model for every node without its own'),
  ).action(async (file: string, o: StartOptions & { maxConcurrent?: number; onFailure?: string; model?: string }) => {
    const spec = checked(file, () => validateDag(withOverrides(readJsonFile(file), o)));
    await run((ctx) => startAndReport(ctx, runDag, spec, idPrefix('dag', spec.name), o));
  });

  startOpts(
    p
      .command('decompose <task>')
      .description('let the LLM split a task into subtasks, run them in parallel, and synthesise the results')
      .addOption(new Option('--subtasks <n>', 'how many subtasks to ask for (default 4)').argParser(positiveInt('--subtasks')))
      .addOption(maxConcurrentOption())
      .option('--model <model>', 'model for every call'),
  ).action(async (task: string, o: StartOptions & { subtasks?: number; maxConcurrent?: number; model?: string }) => {
    const input = checked('decompose', () => parseOrThrow(decomposeInputSchema, withOverrides({ task, subtasks: o.subtasks }, o), 'decompose input'));
    await run((ctx) =>
      startAndReport(ctx, decomposeAndSynthesize, input, 'decompose', o, (r) => {
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
    const spec = checked(file, () => validatePipeline(withOverrides(readJsonFile(file), o)));
    await run((ctx) => startAndReport(ctx, pipeline, spec, idPrefix('pipeline', spec.name), o));
  });

  startOpts(
    p
      .command('intel')
      .description('competitive intelligence: research each company, analyse it, then compare (writes runs/<id>/report.md)')
      .option('--companies <list>', 'comma-separated company names (default: 12 AI companies)')
      .addOption(maxConcurrentOption())
      .option('--model <model>', 'model for every call'),
  ).action(async (o: StartOptions & { companies?: string; maxConcurrent?: number; model?: string }) => {
    const companies = o.companies?.split(',').map((c) => c.trim());
    const input = checked('intel', () => {
      validateIntelInput(withOverrides({ companies }, o));
      return withOverrides({ companies }, o);
    });
    await run((ctx) => startAndReport(ctx, competitiveIntel, input, 'intel', o, renderIntel, undefined, { scenario: 'competitive-intel' }));
  });

  p.command('status <workflowId>')
    .description("show a run's state and live progress counts")
    .option('--json', 'print as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      await run(async ({ client, config }) => {
        const handle = client.workflow.getHandle(id);
        const d = await handle.describe();
        const progress = d.status.name === 'RUNNING' || d.status.name === 'COMPLETED' ? await handle.query(progressQuery).catch(() => undefined) : undefined;
        if (o.json) {
          console.log(JSON.stringify({ workflowId: id, type: d.type, status: d.status.name, startTime: d.startTime, closeTime: d.closeTime, progress }, null, 2));
        } else {
          console.log(`${id}: ${d.type} ${d.status.name} (started ${d.startTime.toISOString()}${d.closeTime ? `, closed ${d.closeTime.toISOString()}` : ''})`);
          if (progress) {
            console.log(
              `tasks: ${progress.total} total, ${progress.pending} pending, ${progress.running} running, ${progress.succeeded} succeeded, ${progress.failed} failed, ${progress.skipped} skipped, ${progress.cancelled} cancelled`,
            );
            for (const t of progress.tasks.filter((x) => x.state === 'failed')) console.log(`  ✗ ${t.name}: ${t.error}`);
          }
          console.log(`Web UI: ${workflowUiLink(config, id)}`);
        }
        return 0;
      });
    });

  p.command('limits')
    .description(
      "show flow control: the LLM worker processes the server sees, each worker's learned state (with --metrics), and the task queue's LLM limiter (permits, each model's adaptive concurrency limit)",
    )
    .option('--json', 'print as JSON')
    .option('--metrics <urls>', "workers' Prometheus endpoints, comma-separated (e.g. http://127.0.0.1:9464/metrics): their adaptive limits and the provider's advertised limits")
    .action(async (o: { json?: boolean; metrics?: string }) => {
      await run(async ({ client, config }) => {
        const fleet = await new FleetSize(client.connection, config.temporal.namespace, llmTaskQueue(config.temporal.taskQueue)).refresh();
        const workers = o.metrics ? await readWorkerFlows(o.metrics.split(',').map((u) => u.trim()).filter(Boolean)) : [];
        const id = limiterWorkflowId(config.temporal.taskQueue);
        const handle = client.workflow.getHandle(id);
        let limiterRunning = true;
        try {
          await handle.describe();
        } catch (err) {
          if (!(err instanceof WorkflowNotFoundError)) throw err;
          limiterRunning = false;
        }
        const s = limiterRunning ? await handle.query(limiterStatusQuery) : undefined;
        if (o.json) {
          console.log(JSON.stringify({ workflowId: id, running: limiterRunning, ...s, llmWorkerProcesses: fleet, workers }, null, 2));
          return 0;
        }
        console.log(`${fleet} LLM worker process(es) polling ${llmTaskQueue(config.temporal.taskQueue)}; each paces to 1/${fleet} of the provider's advertised buckets`);
        for (const line of workerFlowLines(workers)) console.log(line);
        if (!s) {
          console.log(`no limiter on task queue ${config.temporal.taskQueue}: no call has gone through fleet admission (it is on when LLM_RPM, LLM_ITPM, LLM_OTPM, LLM_ADAPTIVE_MAX or LLM_LIMITS is set on the workers)`);
          return 0;
        }
        console.log(`${id}: ${s.holders} worker process(es) holding leases, ${s.inFlight} calls in flight, ${s.reported} calls reported in ${s.renewals} lease renewals; state ${(s.stateBytes / 1024).toFixed(1)} KB${s.granted ? `; ${s.granted} single permits granted (workers of an older version)` : ''}${s.repaired ? `, ${s.repaired} lost settles repaired` : ''}`);
        for (const [model, m] of Object.entries(s.models)) {
          const conc = m.limit > 0 ? `concurrency limit ${m.limit}${m.ceiling !== null ? ` (throttled at ${m.ceiling})` : ''}, ${m.slotsLeased} slots leased` : 'no concurrency limit';
          const buckets = Object.entries(m.buckets ?? {}).map(([k, v]) => `${k} bucket ${v}`);
          console.log(`  ${model}: ${[conc, ...buckets].join(', ')}${m.pausedForMs > 0 ? `, paused ${m.pausedForMs} ms for retry-after` : ''}`);
        }
        console.log(`Web UI: ${workflowUiLink(config, id)}`);
        return 0;
      });
    });

  p.command('result <workflowId>')
    .description("wait for a run's result and print it")
    .option('--json', 'print as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      await run(async ({ client, config }) => {
        try {
          const r = await client.workflow.getHandle<RunWorkflow>(id).result();
          if (o.json) console.log(JSON.stringify({ workflowId: id, ...r }, null, 2));
          else console.log(`${resultsTable(r.results)}\n${statsLines(r.stats)}\nWeb UI: ${workflowUiLink(config, id)}`);
          return r.stats.failed > 0 ? 3 : 0;
        } catch (err) {
          if (err instanceof WorkflowFailedError) {
            console.error(`run ${id} failed: ${err.cause?.message ?? err.message}`);
            return 1;
          }
          throw err;
        }
      });
    });

  p.command('timeline <workflowId>')
    .description("write a run's timeline (one bar per activity, by stage, retries and failures marked) to runs/<id>/timeline.html")
    .option('--out <file>', 'write the page here instead')
    .action(async (id: string, o: { out?: string }) => {
      await run(async ({ client, config }) => {
        console.log(await writeTimeline(client, { workflowId: id, runsDir: config.runsDir, out: o.out }));
        return 0;
      });
    });

  p.command('cancel <workflowId>')
    .description('cancel a run: in-flight LLM calls are aborted, finished results are kept')
    .option('--json', 'print the final result as JSON')
    .action(async (id: string, o: { json?: boolean }) => {
      await run(async ({ client }) => {
        const handle = client.workflow.getHandle<RunWorkflow>(id);
        await handle.cancel();
        if (!o.json) console.log(`cancellation requested for ${id}; waiting for in-flight calls to stop...`);
        try {
          const r = await handle.result();
          if (o.json) console.log(JSON.stringify({ workflowId: id, ...r }, null, 2));
          else console.log(`${resultsTable(r.results)}\n${statsLines(r.stats)}`);
        } catch (err) {
          if (!(err instanceof WorkflowFailedError)) throw err;
          if (!o.json) console.log(`run ${id} ended: ${err.cause?.message ?? err.message}`);
        }
        return 0;
      });
    });

  return p;
}

/** Entry point: parses arguments, connects lazily, maps errors to messages and exit codes. */
export async function main(argv: string[] = process.argv): Promise<number> {
  let exitCode = 0;
  let config: Config | undefined;
  const run = async (work: (ctx: { client: Client; config: Config }) => Promise<number>) => {
    config = loadConfig();
    const { client, connection } = await connectClient(config);
    try {
      exitCode = await work({ client, config });
    } finally {
      await connection.close();
    }
  };
  try {
    await program(run).parseAsync(argv);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UserError || err instanceof ConfigError) {
      console.error(`error: ${err.message}`);
      return 2;
    }
    if (err instanceof WorkflowNotFoundError) {
      console.error(`error: no run with id ${err.workflowId} in namespace ${config?.temporal.namespace ?? 'default'}`);
      return 1;
    }
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
