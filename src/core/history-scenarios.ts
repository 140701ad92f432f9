/**
 * The runs whose histories are recorded (npm run histories:record) and replayed by the tests:
 * one or more per workflow type, covering success, failures, skips, retries and cancellation.
 * Pure data, shared by the record script and the replay test.
 */

/** A recorded scenario: which workflow, its input, and faults the LLM server injects. */
export interface HistoryScenario {
  name: string;
  workflowType: 'fanOut' | 'runDag' | 'decomposeAndSynthesize' | 'pipeline' | 'competitiveIntel' | 'agent';
  input: unknown;
  faults?: { match?: string; times?: number; fault: Record<string, unknown> }[];
  /** Cancel the run this many ms after it starts. */
  cancelAfterMs?: number;
}

/** The limiter workflow every recorded run went through (its history is recorded after the runs). */
export const LIMITER_HISTORY = { name: 'llmLimiter', workflowId: 'llm-limiter-record-histories' };

/** Every scenario, in recording order. */
export const HISTORY_SCENARIOS: HistoryScenario[] = [
  {
    name: 'fanOut-partial-failure',
    workflowType: 'fanOut',
    input: {
      tasks: [
        { name: 'a', prompt: 'task a' },
        { name: 'b', prompt: 'task b' },
        { name: 'c', prompt: 'task c' },
      ],
      maxConcurrent: 2,
    },
    faults: [
      { match: 'task b', fault: { kind: 'status', status: 400, message: 'bad b' } },
      { match: 'task c', times: 1, fault: { kind: 'status', status: 529 } },
    ],
  },
  {
    name: 'fanOut-cancelled',
    workflowType: 'fanOut',
    input: {
      tasks: [
        { name: 'fast', prompt: 'fast one' },
        { name: 'slow', prompt: 'slow one' },
      ],
    },
    faults: [{ match: 'slow one', fault: { kind: 'latency', ttftMs: 10000 } }],
    cancelAfterMs: 1500,
  },
  {
    // LLM calls as local activities (markers, no activity events); one retried after a 500.
    name: 'fanOut-local',
    workflowType: 'fanOut',
    input: {
      llmDispatch: 'local',
      tasks: [
        { name: 'a', prompt: 'local a' },
        { name: 'b', prompt: 'local b' },
        { name: 'c', prompt: 'local c' },
      ],
      maxConcurrent: 2,
    },
    faults: [{ match: 'local b', times: 1, fault: { kind: 'status', status: 500 } }],
  },
  {
    name: 'runDag-skip',
    workflowType: 'runDag',
    input: {
      name: 'replay',
      nodes: [
        { id: 'a', prompt: 'node a' },
        { id: 'b', prompt: 'node b uses {{a}}', dependsOn: ['a'] },
        { id: 'x', prompt: 'node x' },
        { id: 'y', prompt: 'node y uses {{x}}', dependsOn: ['x'] },
      ],
    },
    faults: [{ match: 'node x', fault: { kind: 'status', status: 403, message: 'no x' } }],
  },
  {
    // Two ready nodes of different activity types under a cap of 1: the order is the scheduler's
    // choice, which is exactly what a careless change to ranking would alter (see the replay test).
    name: 'runDag-tool-order',
    workflowType: 'runDag',
    input: {
      maxConcurrent: 1,
      nodes: [
        { id: 'ask', prompt: 'question' },
        { id: 'stats', tool: { name: 'document-stats', documents: [{ name: 'doc', text: 'Durable agents run on Temporal.' }] } },
      ],
    },
  },
  {
    // Two tools in one turn (in parallel), then the answer.
    name: 'agent',
    workflowType: 'agent',
    input: { prompt: 'Compute the document stats, then read the document durable-execution.txt', tools: ['document_stats', 'read_document'] },
  },
  {
    // An agent node (a child workflow) whose final text a dependent quotes.
    name: 'runDag-agents',
    workflowType: 'runDag',
    input: {
      nodes: [
        { id: 'research', prompt: 'Research durable execution retries', agent: { tools: ['search_documents'] } },
        { id: 'memo', prompt: 'Write a memo from {{research}}', dependsOn: ['research'] },
      ],
    },
  },
  { name: 'decompose', workflowType: 'decomposeAndSynthesize', input: { task: 'Plan a product launch', subtasks: 3 } },
  {
    name: 'pipeline',
    workflowType: 'pipeline',
    input: {
      stages: [
        {
          name: 'gather',
          tasks: [
            { id: 'g1', prompt: 'gather one' },
            { id: 'g2', prompt: 'gather two' },
          ],
        },
        { name: 'write', tasks: [{ id: 'w', prompt: 'write from {{previous}}' }] },
      ],
    },
  },
  {
    name: 'competitiveIntel',
    workflowType: 'competitiveIntel',
    input: { companies: ['Acme', 'Globex', 'Initech'] },
    faults: [{ match: 'Research Globex', fault: { kind: 'status', status: 400, message: 'blocked' } }],
  },
];
