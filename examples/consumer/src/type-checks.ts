// Compile-time checks: `npm run build` passes only while the package's types reject wrong inputs.
import type { Client } from '@temporalio/client';
import { startDag, startFanOut } from 'durable-agents/client';

export async function wrongInputsDoNotCompile(client: Client): Promise<void> {
  // @ts-expect-error tasks must be a list of { name, prompt }
  await startFanOut(client, { tasks: 'not a list' }, { taskQueue: 'q' });
  // @ts-expect-error a node's dependsOn is a list of ids
  await startDag(client, { nodes: [{ id: 'a', prompt: 'p', dependsOn: 'b' }] }, { taskQueue: 'q' });
  // @ts-expect-error maxConcurrent is a number
  await startFanOut(client, { tasks: [{ name: 'a', prompt: 'p' }], maxConcurrent: 'many' }, { taskQueue: 'q' });
}
