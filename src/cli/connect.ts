/** Connecting the CLI to Temporal with a message that says how to start a server. */
import { Client, Connection } from '@temporalio/client';
import type { Config } from '../config';
import { buildDataConverter } from '../data/data-converter';
import { UserError } from './inputs';

/** Connects to the configured Temporal server or throws a UserError saying how to start one. */
export async function connectClient(config: Config): Promise<{ client: Client; connection: Connection }> {
  let connection: Connection;
  try {
    // connect() waits for the channel and calls GetSystemInfo itself.
    connection = await Connection.connect({ ...config.temporal.connection, connectTimeout: 3000 });
  } catch (err) {
    throw new UserError(
      `cannot reach the Temporal server at ${config.temporal.address} (${err instanceof Error ? err.message.split('\n')[0] : String(err)}).\n` +
        `Start one with \`npm run server\` (or \`npm run demo\`, which starts everything), or point TEMPORAL_ADDRESS at yours.`,
    );
  }
  return { client: new Client({ connection, namespace: config.temporal.namespace, dataConverter: buildDataConverter(config.payloads) }), connection };
}
