/** What every command's action gets: a connected client and the loaded config, and how it runs. */
import type { Client } from '@temporalio/client';
import type { Config } from '../config';

/** A connected client and the loaded config. */
export interface CommandContext {
  client: Client;
  config: Config;
}

/** Connects, runs one command's work, and records its exit code. */
export type Runner = (work: (ctx: CommandContext) => Promise<number>) => Promise<void>;
