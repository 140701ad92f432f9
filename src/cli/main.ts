/**
 * The CLI: `npm run client -- <command>`. Starts runs with live progress, and inspects, fetches
 * and cancels them. Inputs are validated here first, so a bad file never starts a run.
 *
 * Exit codes: 0 done, 1 failure (run failed, server unreachable), 2 bad usage or input,
 * 3 the run completed but some tasks failed.
 */
import { Command, CommanderError } from 'commander';
import { WorkflowNotFoundError } from '@temporalio/client';
import { ConfigError, loadConfig, type Config } from '../config';
import { addInspectCommands } from './commands/inspect';
import { addLimitsCommand } from './commands/limits';
import { addStartCommands } from './commands/start';
import { connectClient } from './connect';
import type { Runner } from './context';
import { UserError } from './inputs';

/** Builds the commander program; `run` receives each action's work and owns connecting. */
function program(run: Runner): Command {
  const p = new Command('client').description('Start and inspect durable parallel LLM runs on Temporal').showHelpAfterError('(run with --help for usage)').exitOverride();
  addStartCommands(p, run);
  addInspectCommands(p, run);
  addLimitsCommand(p, run);
  return p;
}

/** Entry point: parses arguments, connects lazily, maps errors to messages and exit codes. */
export async function main(argv: string[] = process.argv): Promise<number> {
  let exitCode = 0;
  let config: Config | undefined;
  const run: Runner = async (work) => {
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
