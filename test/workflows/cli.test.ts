/** The client CLI as a user runs it: a real process against the real dev server. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startHarness, type Harness } from '../helpers/harness';

const run = promisify(execFile);
const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

describe('client CLI', () => {
  let h: Harness;
  let dir: string;
  const cli = (args: string[], env: Record<string, string> = {}) =>
    run(TSX, [path.join(ROOT, 'src/cli/main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: h.address, TEMPORAL_TASK_QUEUE: h.taskQueue, ANTHROPIC_API_KEY: '', RUNS_DIR: dir, ...env },
    }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  beforeAll(async () => {
    h = await startHarness();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-test-'));
  });
  afterAll(async () => h?.close());

  test('fanout --json prints workflowId, results in input order and stats', async () => {
    const file = path.join(dir, 'tasks.json');
    fs.writeFileSync(
      file,
      JSON.stringify([
        { name: 'alpha', prompt: 'Describe alpha' },
        { name: 'beta', prompt: 'Describe beta' },
      ]),
    );
    const r = await cli(['fanout', file, '--json', '--max-concurrent', '2']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { workflowId: string; results: { name: string; success: boolean; output: string }[]; stats: { total: number; succeeded: number } };
    expect(out.workflowId).toMatch(/^fanout-\d{4}-\d{2}-\d{2}-[a-z0-9]{6}$/);
    expect(out.results.map((x) => x.name)).toEqual(['alpha', 'beta']);
    expect(out.results[1].output).toContain('Describe beta');
    expect(out.stats).toMatchObject({ total: 2, succeeded: 2 });
    expect(h.llm.stats().calls).toBe(2);
    // `result` fetches the same run by id.
    const again = await cli(['result', out.workflowId, '--json']);
    expect(JSON.parse(again.stdout).results).toHaveLength(2);
  });

  test('fanout as a user runs it: one line per finished task, the results table, then the timeline it wrote', async () => {
    const file = path.join(dir, 'tasks-human.json');
    fs.writeFileSync(file, JSON.stringify(['one', 'two', 'three'].map((name) => ({ name, prompt: `Describe ${name}` }))));
    const r = await cli(['fanout', file]);
    expect(r.code).toBe(0);
    // Each finished task once on stderr, whether the last progress poll saw it or the result did.
    for (const name of ['one', 'two', 'three']) expect(r.stderr.split('\n').filter((l) => l.includes(`✓ ${name} (`))).toHaveLength(1);
    // The results table, then the timeline's path (written after the table is printed), then the Web UI link.
    const table = r.stdout.indexOf('tasks: 3 (3 succeeded');
    const timeline = r.stdout.indexOf('timeline: ');
    expect(table).toBeGreaterThan(0);
    expect(timeline).toBeGreaterThan(table);
    const written = /timeline: (\S+)/.exec(r.stdout)![1];
    expect(fs.existsSync(written)).toBe(true);
  });

  test('an invalid task file is rejected with its problem named, before any run starts', async () => {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, JSON.stringify([{ name: 'a', prompt: 'x' }, { name: 'a' }]));
    const before = h.llm.stats().calls;
    const r = await cli(['fanout', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('tasks[1].prompt');
    expect(h.llm.stats().calls).toBe(before);
  });

  test('dag validates the spec client-side: a cycle is printed and nothing starts', async () => {
    const file = path.join(dir, 'cycle.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        nodes: [
          { id: 'a', prompt: 'x', dependsOn: ['b'] },
          { id: 'b', prompt: 'y', dependsOn: ['a'] },
        ],
      }),
    );
    const r = await cli(['dag', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cycle: a → b → a');
    const list = await h.client.workflow.list({ query: `TaskQueue = '${h.taskQueue}' AND WorkflowType = 'runDag'` });
    for await (const w of list) throw new Error(`unexpected run ${w.workflowId}`);
  });

  test('intel --json runs the scenario on the given companies', async () => {
    const r = await cli(['intel', '--companies', 'Acme,Globex', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { workflowId: string; results: { group: string }[]; reportPath: string; missing: unknown[] };
    expect(out.workflowId).toMatch(/^intel-/);
    expect(out.results.map((x) => x.group)).toEqual(['research', 'analysis', 'research', 'analysis', 'summary']);
    expect(fs.existsSync(out.reportPath)).toBe(true);
    const d = await h.client.workflow.getHandle(out.workflowId).describe();
    expect(d.memo).toMatchObject({ scenario: 'competitive-intel', companies: 2, succeeded: 5 });
  });

  test('missing file, invalid JSON, unknown option or command, a directory, a huge prompt, a missing API key and an unreachable server each get a clear error', async () => {
    const missing = await cli(['fanout', path.join(dir, 'nope.json')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('file not found');

    const broken = path.join(dir, 'broken.json');
    fs.writeFileSync(broken, '{"tasks": [');
    const invalid = await cli(['fanout', broken]);
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('is not valid JSON');

    const unknown = await cli(['fanout', broken, '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown option '--bogus'/);

    const cmd = await cli(['fanut', broken]);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toMatch(/unknown command 'fanut'/);

    const unreadable = await cli(['fanout', dir]);
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toContain('is a directory, not a JSON file');

    const huge = path.join(dir, 'huge.json');
    fs.writeFileSync(huge, JSON.stringify([{ name: 'big', prompt: 'x'.repeat(1_600_000) }]));
    const tooBig = await cli(['fanout', huge]);
    expect(tooBig.code).toBe(2);
    expect(tooBig.stderr).toMatch(/the workflow input is 1\.60 MB, over the 1\.5 MB a Temporal payload can safely hold/);

    const ok = path.join(dir, 'ok.json');
    fs.writeFileSync(ok, JSON.stringify([{ name: 'a', prompt: 'x' }]));
    const noKey = await cli(['fanout', ok], { LLM_PROVIDER: 'anthropic' });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain('ANTHROPIC_API_KEY is missing');

    const down = await cli(['fanout', ok], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('cannot reach the Temporal server at 127.0.0.1:1');
    expect(down.stderr).toContain('npm run server');
  });
});
