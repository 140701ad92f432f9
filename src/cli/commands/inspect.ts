/** The commands that inspect a run: status, result, timeline, cancel. */
import type { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import { workflowUiLink } from '../../config';
import { progressQuery } from '../../protocol';
import { writeTimeline } from '../../timeline';
import type { Runner } from '../context';
import { resultsTable, statsLines } from '../render';
import type { RunWorkflow } from '../run';

/** Adds the inspection commands to the program. */
export function addInspectCommands(p: Command, run: Runner): void {
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
}
