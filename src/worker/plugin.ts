/**
 * `AgentsPlugin`: this package in a user's own worker. `Worker.create({ plugins: [new AgentsPlugin()] })`
 * registers the LLM and tool activities on that worker's task queue, wired exactly as
 * `npm run worker` wires them (flow control, cache, answer journal, metrics, the fleet limiter
 * when limits are configured), configured from the environment (src/config) unless options say
 * otherwise, and the data converter when payload encryption or offload is configured. The
 * worker's own workflows file may `export * from '<pkg>/workflows'` beside its own workflows.
 */
import type { DataConverter } from '@temporalio/common';
import { SimplePlugin } from '@temporalio/plugin';
import type { BundleOptions, NativeConnection, Worker, WorkerOptions } from '@temporalio/worker';
import { createLlmActivities, createToolActivities, type ActivityDeps, type ToolSource, type UserTool } from '../activities';
import { userToolSource } from '../activities/tool-registry';
import { parseMcpServers, type McpServersConfig } from '../mcp/config';
import { loadConfig, type Config } from '../config';
import { buildDataConverter } from '../data/data-converter';
import { buildActivityDeps, type BuiltDeps } from './deps';
import { withLeanBundle } from './bundle';

/** Which of the package's activities a worker runs. */
export type AgentsActivities = 'all' | 'llm' | 'tools' | 'none';

/** Options of AgentsPlugin; everything defaults to the environment, as `npm run worker` reads it. */
export interface AgentsPluginOptions {
  /** Where configuration is read from (default process.env); see the README's Configuration section. */
  env?: NodeJS.ProcessEnv;
  /** A config already loaded (overrides `env`). */
  config?: Config;
  /** Replace some activity dependencies (e.g. an Anthropic client of your own, document roots). */
  deps?: Partial<ActivityDeps>;
  /** Which activities this worker registers (default all: one worker runs every workflow end to end). */
  activities?: AgentsActivities;
  /**
   * The data converter of workers and clients: default the one the environment configures
   * (PAYLOAD_ENCRYPTION_KEYS, PAYLOAD_OFFLOAD_BYTES, PAYLOAD_STORE_DIR) when any of them is set,
   * none otherwise; `false` never sets one.
   */
  dataConverter?: DataConverter | false;
  /**
   * Tools of your own for agents, beside the built-in ones: each a name, description, JSON Schema
   * and a `run(input, ctx)` function, run as the `runAgentTool` activity on this worker. Checked
   * when the plugin is built (a bad definition throws, naming every problem).
   */
  tools?: UserTool[];
  /** MCP servers whose tools agents may use (default: MCP_SERVERS from the environment). */
  mcpServers?: McpServersConfig;
}

const PAYLOAD_VARS = ['PAYLOAD_ENCRYPTION_KEYS', 'PAYLOAD_OFFLOAD_BYTES', 'PAYLOAD_STORE_DIR'];

/** The package's activities and data converter as a Temporal worker (and client) plugin. */
export class AgentsPlugin extends SimplePlugin {
  private readonly config: Config;
  private readonly built = new Set<BuiltDeps>();
  private readonly userTools?: ToolSource;

  constructor(private readonly agentOptions: AgentsPluginOptions = {}) {
    const env = agentOptions.env ?? process.env;
    const config = agentOptions.config ?? loadConfig(env);
    const dataConverter =
      agentOptions.dataConverter === false
        ? undefined
        : (agentOptions.dataConverter ?? (PAYLOAD_VARS.some((v) => env[v] !== undefined) ? buildDataConverter(config.payloads) : undefined));
    super({ name: 'durable-agents', ...(dataConverter ? { dataConverter } : {}) });
    this.config = agentOptions.mcpServers ? { ...config, mcpServers: parseMcpServers(agentOptions.mcpServers) } : config;
    this.userTools = agentOptions.tools?.length ? userToolSource(agentOptions.tools) : undefined;
  }

  /**
   * The worker's workflow bundle (Worker.create with `workflowsPath`, or bundleWorkflowCode with
   * this plugin) leaves out what the package's workflows never use (src/worker/bundle.ts).
   */
  override configureBundler(options: BundleOptions): BundleOptions {
    return withLeanBundle(super.configureBundler(options));
  }

  /** Adds the activities, built for this worker's connection and task queue. */
  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker(options);
    const which = this.agentOptions.activities ?? 'all';
    if (which === 'none') return configured;
    const connection = configured.connection as NativeConnection | undefined;
    if (!connection) throw new Error('AgentsPlugin: the worker needs a `connection` (NativeConnection.connect(...)) to run LLM activities');
    const namespace = configured.namespace ?? 'default';
    const llm = which === 'all' || which === 'llm';
    const built = buildActivityDeps(this.config, {
      connection,
      namespace,
      llmTaskQueue: configured.taskQueue,
      limiterBaseQueue: configured.taskQueue,
      dataConverter: configured.dataConverter,
      llm,
    });
    this.built.add(built);
    const deps = { ...built.deps, ...this.agentOptions.deps };
    if (this.userTools) deps.toolSources = [this.userTools, ...(deps.toolSources ?? [])];
    const activities = {
      ...(llm ? createLlmActivities(deps) : {}),
      ...(which === 'all' || which === 'tools' ? createToolActivities(deps) : {}),
    };
    return {
      ...configured,
      activities: { ...(configured.activities ?? {}), ...activities },
      // Cancellation reaches an LLM call only with a heartbeat response: keep that delay short.
      maxHeartbeatThrottleInterval: configured.maxHeartbeatThrottleInterval ?? this.config.worker.heartbeatThrottleMs,
      // The activities a workflow task schedules on this queue go to this worker in the reply to
      // its completion (eager dispatch, no poll each) for up to this many free slots, not the SDK's 3.
      maxEagerActivityReservationsPerWorkflowTask:
        configured.maxEagerActivityReservationsPerWorkflowTask ??
        this.config.worker.eagerActivitySlots ??
        configured.maxConcurrentActivityTaskExecutions ??
        this.config.llm.maxConcurrent,
      // Runs with llmDispatch 'local' run their LLM calls on this worker as local activities.
      maxConcurrentLocalActivityExecutions: configured.maxConcurrentLocalActivityExecutions ?? (llm ? this.config.llm.maxConcurrent : undefined),
    };
  }

  /** Stops what the activities started (timers, lease renewals) once the worker stops. */
  override async runWorker(worker: Worker, next: (w: Worker) => Promise<void>): Promise<void> {
    try {
      await super.runWorker(worker, next);
    } finally {
      await Promise.all([...this.built].map((b) => b.close()));
      this.built.clear();
    }
  }
}
