/** `limits`: flow control as the server and the workers see it, and the fleet limiter's state. */
import type { Command } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import { workflowUiLink } from '../../config';
import { limiterWorkflowId, llmTaskQueue } from '../../core/names';
import { FleetSize } from '../../llm/fleet';
import { limiterStatusQuery } from '../../protocol';
import type { Runner } from '../context';
import { readWorkerFlows, workerFlowLines } from '../worker-flow';

/** Adds `limits` to the program. */
export function addLimitsCommand(p: Command, run: Runner): void {
  p.command('limits')
    .description(
      "show flow control: the LLM worker processes the server sees, each worker's learned state (with --metrics), and the task queue's LLM limiter (permits, each model's adaptive concurrency limit)",
    )
    .option('--json', 'print as JSON')
    .option('--metrics <urls>', "workers' Prometheus endpoints, comma-separated (e.g. http://127.0.0.1:9464/metrics): their adaptive limits and the provider's advertised limits")
    .action(async (o: { json?: boolean; metrics?: string }) => {
      await run(async ({ client, config }) => {
        const fleet = await new FleetSize(client.connection, config.temporal.namespace, llmTaskQueue(config.temporal.taskQueue)).refresh();
        const workers = o.metrics
          ? await readWorkerFlows(
              o.metrics
                .split(',')
                .map((u) => u.trim())
                .filter(Boolean),
            )
          : [];
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
          console.log(
            `no limiter on task queue ${config.temporal.taskQueue}: no call has gone through fleet admission (it is on when LLM_RPM, LLM_ITPM, LLM_OTPM, LLM_ADAPTIVE_MAX or LLM_LIMITS is set on the workers)`,
          );
          return 0;
        }
        console.log(
          `${id}: ${s.holders} worker process(es) holding leases, ${s.inFlight} calls in flight, ${s.reported} calls reported in ${s.renewals} lease renewals; state ${(s.stateBytes / 1024).toFixed(1)} KB${s.granted ? `; ${s.granted} single permits granted (workers of an older version)` : ''}${s.repaired ? `, ${s.repaired} lost settles repaired` : ''}`,
        );
        for (const [model, m] of Object.entries(s.models)) {
          const conc =
            m.limit > 0 ? `concurrency limit ${m.limit}${m.ceiling !== null ? ` (throttled at ${m.ceiling})` : ''}, ${m.slotsLeased} slots leased` : 'no concurrency limit';
          const buckets = Object.entries(m.buckets ?? {}).map(([k, v]) => `${k} bucket ${v}`);
          console.log(`  ${model}: ${[conc, ...buckets].join(', ')}${m.pausedForMs > 0 ? `, paused ${m.pausedForMs} ms for retry-after` : ''}`);
        }
        console.log(`Web UI: ${workflowUiLink(config, id)}`);
        return 0;
      });
    });
}
