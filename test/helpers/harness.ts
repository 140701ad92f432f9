/**
 * Per-test wiring on the shared dev server: a unique task queue, the real workers built by the
 * production factory, the real Anthropic SDK, and a local LLM server with the latency and faults
 * the test needs.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { quietRuntime } from './runtime';
import { createAnthropicClient } from '../../src/llm/anthropic';
import { startLocalLlmServer, type LocalLlmServer, type LocalLlmServerOptions } from '../../src/testing';
import { createWorkers } from '../../src/worker/create-workers';
import { splitQueues } from '../../src/client';
import type { Config } from '../../src/config';
import type { ToolSource } from '../../src/activities';
import { buildDataConverter } from '../../src/data/data-converter';
import { DEFAULT_PRICES } from '../../src/core/pricing';
import { TemporalAdmission, type LimitsTable } from '../../src/llm/admission';
import { FileCacheStore, ResponseCache } from '../../src/llm/cache';
import { FileAnswerJournal, type AnswerJournal } from '../../src/llm/journal';
import { FlowController, type FlowOptions } from '../../src/llm/flow';
import { FleetSize } from '../../src/llm/fleet';
import { llmTaskQueue } from '../../src/core/names';
import { LatencyTracker } from '../../src/llm/hedging';

/** Address of the run's dev server (set by the global setup). */
export function temporalAddress(): string {
  const a = process.env.TEST_TEMPORAL_ADDRESS;
  if (!a) throw new Error('TEST_TEMPORAL_ADDRESS is not set: run tests through jest (globalSetup starts the dev server)');
  return a;
}

/** Options of one harness. */
export interface HarnessOptions {
  llm?: LocalLlmServerOptions;
  llmMaxConcurrent?: number;
  llmRpm?: number;
  /** Start workers now (default) or let the test start them. */
  startWorkers?: boolean;
  heartbeatIntervalMs?: number;
  requestTimeoutMs?: number;
  /** Admission limits (llmLimiter workflow), per model or `*`. */
  limits?: LimitsTable;
  limitWindowMs?: number;
  /** The limiter's history length before it continues as new. */
  limiterMaxHistory?: number;
  /** The workers' lease time at the limiter (default 15 s; they renew every third of it). */
  limiterLeaseMs?: number;
  /** Run the limiter's workflow worker in this harness's workers (default: when limits are set). */
  limiterWorker?: boolean;
  /** How long the limiter may stay silent before calls go ahead without it. */
  failOpenAfterMs?: number;
  /** Hedge calls slower than the recent p95. */
  hedging?: boolean;
  /** This process's flow control: on by default as in production (`false` turns it off), or options. */
  flow?: false | FlowOptions;
  /** Default throttle deadline of a call. */
  throttleDeadlineMs?: number;
  /** Tool sources of the workers besides the built-in tools (user tools, MCP servers). */
  toolSources?: ToolSource[];
  /** Payload encryption / offload for workers and client (default: offload above 256 KiB to a temp dir). */
  payloads?: Partial<Config['payloads']>;
  /** Wraps the workers' answer journal (e.g. to see what the activities ask of it). */
  wrapJournal?: (journal: AnswerJournal) => AnswerJournal;
}

/** What a test gets. */
export interface Harness {
  llm: LocalLlmServer;
  client: Client;
  taskQueue: string;
  address: string;
  /** Where this harness's workers write run artifacts. */
  runsDir: string;
  /** The one folder this harness's tool activities may read (DOCUMENT_ROOTS). */
  documentsDir: string;
  /** Where large payloads are offloaded. */
  payloadStoreDir: string;
  /** The response cache's directory (share it with a worker process to share the cache). */
  cacheDir: string;
  /** The worker processes polling this harness's LLM queue, as the server reports them. */
  fleet: FleetSize;
  /** Forgets what the workers' flow control learned (for tests sharing one harness). */
  resetFlow(): void;
  /** The workers' latency tracker when hedging is on (hedges sent per model). */
  hedging?: LatencyTracker;
  /** The answer journal's directory (share it with a worker process so its retries find answers). */
  journalDir: string;
  /** Starts a (further) set of workers on this harness's queues (or only a limiter worker). */
  startWorkers(extra?: { limiterOnly?: boolean }): Promise<void>;
  /** The admission clients of the workers started so far (fail-open state, calls admitted without the limiter). */
  admissions: TemporalAdmission[];
  stopWorkers(): Promise<void>;
  start(workflowType: string, input: unknown, id?: string): Promise<WorkflowHandle>;
  run<T>(workflowType: string, input: unknown, id?: string): Promise<T>;
  close(): Promise<void>;
}

/** Builds a harness; call close() in afterAll/afterEach. */
export async function startHarness(o: HarnessOptions = {}): Promise<Harness> {
  quietRuntime();
  const address = temporalAddress();
  const llm = await startLocalLlmServer({ ttftMs: 30, perTokenMs: 0, outputTokens: 20, ...o.llm });
  const connection = await Connection.connect({ address });
  const payloadStoreDir = fs.mkdtempSync(path.join(os.tmpdir(), 'payloads-'));
  const dataConverter = buildDataConverter({ offloadBytes: 256 * 1024, storeDir: payloadStoreDir, ...o.payloads });
  const client = new Client({ connection, dataConverter });
  const native = await NativeConnection.connect({ address });
  const taskQueue = `test-${randomUUID()}`;
  const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'runs-'));
  const documentsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'documents-'));
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cache-'));
  const journalDir = fs.mkdtempSync(path.join(os.tmpdir(), 'journal-'));
  // One tracker for every set of workers this harness starts (tests read its hedge counts).
  const hedging = o.hedging ? new LatencyTracker(95, 200, 20) : undefined;
  // As in the worker: the LLM queue's live pollers, from the server.
  const fleet = new FleetSize(native, 'default', llmTaskQueue(taskQueue));
  const flows: FlowController[] = [];
  const trackFlow = (f: FlowController) => (flows.push(f), f);
  const admissions: TemporalAdmission[] = [];
  const trackAdmission = (a: TemporalAdmission) => (admissions.push(a), a);
  let workers: Worker[] = [];
  const running: Promise<unknown>[] = [];

  const h: Harness = {
    llm,
    client,
    taskQueue,
    address,
    runsDir,
    documentsDir,
    payloadStoreDir,
    cacheDir,
    journalDir,
    hedging,
    resetFlow: () => flows.forEach((f) => f.reset()),
    fleet,
    admissions,
    async startWorkers(extra?: { limiterOnly?: boolean }) {
      // Each call adds another complete set of workers on the same task queues (e.g. two "processes").
      const added = await createWorkers({
        connection: native,
        namespace: 'default',
        taskQueue,
        deps: {
          anthropic: createAnthropicClient({
            provider: 'local',
            apiKey: 'test-key',
            baseURL: llm.url,
            model: 'claude-sonnet-4-6',
            maxTokens: 1024,
            maxConcurrent: o.llmMaxConcurrent ?? 100,
            rpm: 0,
            requestTimeoutMs: o.requestTimeoutMs ?? 60_000,
          }),
          defaults: { model: 'claude-sonnet-4-6', maxTokens: 1024 },
          heartbeatIntervalMs: o.heartbeatIntervalMs ?? 500,
          runsDir: runsDir,
          documentRoots: [documentsDir],
          documentsDir,
          toolSources: o.toolSources,
          prices: DEFAULT_PRICES,
          cache: new ResponseCache(new FileCacheStore(cacheDir)),
          journal: (o.wrapJournal ?? ((j: AnswerJournal) => j))(new FileAnswerJournal(journalDir)),
          flow: o.flow === false ? undefined : trackFlow(new FlowController({ windowMs: o.limitWindowMs, ceilings: o.limits, fleetSize: () => fleet.size, ...o.flow })),
          throttleDeadlineMs: o.throttleDeadlineMs,
          hedging,
          admission: o.limits
            ? trackAdmission(
                new TemporalAdmission(
                  new Client({ connection: native, dataConverter }),
                  taskQueue,
                  o.limits,
                  o.limitWindowMs ?? 60_000,
                  o.limiterLeaseMs,
                  o.limiterMaxHistory,
                  o.failOpenAfterMs,
                ),
              )
            : undefined,
        },
        llmMaxConcurrent: o.llmMaxConcurrent ?? 100,
        llmRpm: o.llmRpm ?? 0,
        heartbeatThrottleMs: 500,
        limiter: extra?.limiterOnly ? true : !!o.limits && o.limiterWorker !== false,
        ...(extra?.limiterOnly ? { roles: [] } : {}),
        dataConverter,
        workflowBundle: { codePath: process.env.TEST_WORKFLOW_BUNDLE! },
      });
      workers.push(...added);
      running.push(...added.map((w) => w.run()));
    },
    async stopWorkers() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await Promise.all(running);
      workers = [];
      running.length = 0;
    },
    async start(workflowType, input, id) {
      // Runs go to the production layout (LLM and tool calls on their own queues), as the CLI routes them.
      const routed = input && typeof input === 'object' && !Array.isArray(input) ? { ...splitQueues(taskQueue), ...input } : input;
      return client.workflow.start(workflowType, { taskQueue, workflowId: id ?? `${workflowType}-${randomUUID()}`, args: [routed] });
    },
    async run<T>(workflowType: string, input: unknown, id?: string) {
      const handle = await h.start(workflowType, input, id);
      return (await handle.result()) as T;
    },
    async close() {
      fleet.stop();
      await h.stopWorkers();
      for (const a of admissions) a.close();
      await native.close();
      await connection.close();
      await llm.close();
    },
  };
  if (o.startWorkers ?? true) await h.startWorkers();
  fleet.start();
  return h;
}

/**
 * One harness for a whole describe block: started before its tests, closed after them, and
 * before each test the LLM server's stats and faults and what flow control learned are reset
 * (every test is a fresh provider). Returns a stand-in that forwards to the live harness.
 */
export function sharedHarness(o: HarnessOptions = {}): Harness {
  let live: Harness | undefined;
  beforeAll(async () => {
    live = await startHarness(o);
  });
  afterAll(async () => live?.close());
  beforeEach(() => {
    live!.llm.reset();
    live!.resetFlow();
  });
  return new Proxy({} as Harness, {
    get: (_t, prop) => {
      if (!live) throw new Error('the shared harness is used before its beforeAll ran');
      return live[prop as keyof Harness];
    },
  });
}
