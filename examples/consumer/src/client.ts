// Starting the package's workflows and the project's own by reference, typed end to end.
import { Client, Connection } from '@temporalio/client';
import { startFanOut, type FanOutResult } from 'durable-agents/client';
import { draftAndJudge } from './workflows';

async function main(): Promise<void> {
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233' });
  const client = new Client({ connection });
  const taskQueue = process.env.TASK_QUEUE ?? 'my-app';

  const fan = await startFanOut(
    client,
    {
      tasks: [
        { name: 'acme', prompt: 'Research Acme' },
        { name: 'globex', prompt: 'Research Globex' },
      ],
      maxConcurrent: 2,
    },
    { taskQueue },
  );
  const fanResult: FanOutResult = await fan.result();

  const own = await client.workflow.execute(draftAndJudge, { taskQueue, workflowId: `draft-and-judge-${Date.now()}`, args: [{ topic: 'durable agents' }] });

  console.log(
    JSON.stringify({
      fanOut: fanResult.results.map((r) => ({ name: r.name, state: r.state, output: r.output })),
      draftAndJudge: { verdict: own.verdict, words: own.words, states: own.results.map((r) => r.state) },
    }),
  );
  await connection.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
