/**
 * docker-compose.yml and the Dockerfile, checked without a Docker engine: the services exist, the
 * ports are the documented ones, every image is pinned, the worker scales and is configured only
 * by variables src/config/ reads, and the effective worker environment loads as a valid Config.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { CONFIG_ENV_VARS, loadConfig } from '../../src/config';

const ROOT = path.resolve(__dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(ROOT, f), 'utf8');

interface Service {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  container_name?: string;
  ports?: (string | number | { target: number; published?: number | string })[];
  expose?: (string | number)[];
  environment?: Record<string, string | number | boolean | null> | string[];
  command?: string | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  volumes?: (string | { type?: string; source?: string; target: string })[];
  deploy?: { replicas?: number };
}
interface Compose {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

const compose = parse(read('docker-compose.yml')) as Compose;
const services = compose.services;

function envOf(s: Service): Record<string, string> {
  const e = s.environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv) => [kv.split('=')[0], kv.split('=').slice(1).join('=')]));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** Compose's `${VAR:-default}` / `${VAR-default}` / `${VAR}` interpolation against a given host environment. */
function interpolate(value: string, host: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g, (m, name: string | undefined, op: string | undefined, def: string | undefined) => {
    if (m === '$$') return '$'; // an escaped dollar, left for the container's shell
    const v = host[name!];
    if (op === ':-') return v ? v : (def ?? '');
    if (op === '-') return v !== undefined ? v : (def ?? '');
    return v ?? '';
  });
}

/** [published, target] pairs of a service's ports. */
function portPairs(s: Service): [string, string][] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === 'object') return [String(p.published ?? ''), String(p.target)];
    const parts = String(p).split(':');
    return [parts.length > 1 ? parts[parts.length - 2] : '', parts[parts.length - 1]];
  });
}

describe('docker-compose.yml', () => {
  test('has Temporal on PostgreSQL, the Web UI, the local LLM server and the worker', () => {
    expect(Object.keys(services).sort()).toEqual(['llm', 'postgresql', 'temporal', 'ui', 'worker']);
    expect(services.temporal.image).toMatch(/^temporalio\/auto-setup:/);
    expect(services.ui.image).toMatch(/^temporalio\/ui:/);
    expect(services.postgresql.image).toMatch(/^postgres:/);
    expect(envOf(services.temporal)).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'postgresql' });
    expect(envOf(services.ui).TEMPORAL_ADDRESS).toBe('temporal:7233');
  });

  test('publishes the gRPC frontend on 7233 and the Web UI on 8080', () => {
    expect(portPairs(services.temporal)).toContainEqual(['7233', '7233']);
    expect(portPairs(services.ui)).toContainEqual(['8080', '8080']);
  });

  test('every image is pinned to a version (no `latest`, no bare name)', () => {
    for (const [name, s] of Object.entries(services)) {
      expect([name, s.image]).toEqual([name, expect.any(String)]);
      const tag = /:([^/:]+)$/.exec(s.image!)?.[1];
      // Pulled images carry a version; locally built ones (build: .) a fixed local tag.
      expect([name, tag]).toEqual([name, s.build ? expect.stringMatching(/^[\w.-]+$/) : expect.stringMatching(/^\d+(\.\d+)+/)]);
      expect(tag).not.toBe('latest');
    }
  });

  test('the worker scales: built from the Dockerfile, no container_name, no host port, a shared volume', () => {
    const w = services.worker;
    expect(w.build === '.' || (typeof w.build === 'object' && (w.build.context ?? '.') === '.')).toBe(true);
    expect(w.container_name).toBeUndefined();
    expect(w.ports ?? []).toEqual([]);
    const env = envOf(w);
    const mounts = (w.volumes ?? []).map((v) => (typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : { source: v.source ?? '', target: v.target }));
    for (const dir of [env.RUNS_DIR, env.PAYLOAD_STORE_DIR]) {
      const mount = mounts.find((m) => dir === m.target || dir.startsWith(`${m.target}/`));
      expect({ dir, mount }).toEqual({ dir, mount: expect.objectContaining({ source: expect.stringMatching(/^[a-z][\w-]*$/) }) });
      expect(compose.volumes).toHaveProperty(mount!.source);
    }
  });

  test('the worker is configured only by variables src/config/ reads, and by all the documented ones', () => {
    const known = CONFIG_ENV_VARS;
    expect(known).toEqual(expect.arrayContaining(['TEMPORAL_ADDRESS', 'RUNS_DIR', 'LOG_LEVEL']));
    const used = Object.keys(envOf(services.worker));
    expect(used.filter((n) => !known.includes(n))).toEqual([]);
    const documented = [
      'TEMPORAL_ADDRESS',
      'TEMPORAL_NAMESPACE',
      'TEMPORAL_TASK_QUEUE',
      'ANTHROPIC_API_KEY',
      'ANTHROPIC_BASE_URL',
      'LLM_MODEL',
      'LLM_MAX_CONCURRENT',
      'LLM_RPM',
      'WORKER_ROLES',
      'TOOLS_MAX_CONCURRENT',
      'RUNS_DIR',
      'PAYLOAD_STORE_DIR',
      'PAYLOAD_ENCRYPTION_KEYS',
      'LOG_LEVEL',
    ];
    expect(documented.filter((n) => !used.includes(n))).toEqual([]);
    if (known.includes('METRICS_PORT')) expect(used).toContain('METRICS_PORT');
  });

  test('TEMPORAL_ADDRESS points at the temporal service, and the worker waits for it to be healthy', () => {
    const [host, port] = envOf(services.worker).TEMPORAL_ADDRESS.split(':');
    expect(services[host]).toBe(services.temporal);
    expect(portPairs(services.temporal).map(([, target]) => target)).toContain(port);
    expect(services.worker.depends_on).toMatchObject({ temporal: { condition: 'service_healthy' } });
  });

  test('with no host environment, the worker environment is a valid Config that calls the llm service', () => {
    const env = Object.fromEntries(Object.entries(envOf(services.worker)).map(([k, v]) => [k, interpolate(v, {})]));
    const config = loadConfig(env);
    expect(config.temporal.address).toBe('temporal:7233');
    expect(config.llm.provider).toBe('local');
    const base = new URL(config.llm.baseURL!);
    expect(services[base.hostname]).toBe(services.llm);
    const llmEnv = envOf(services.llm);
    expect(llmEnv.LLM_SERVER_HOST).toBe('0.0.0.0');
    expect(base.port).toBe(llmEnv.LLM_SERVER_PORT);
    expect(config.runsDir).toBe('/data/runs');
    expect(config.payloads.storeDir).toBe('/data/runs/payloads');
    // Unset host variables become empty strings, which loadConfig treats as "use the default".
    expect(config.temporal.taskQueue).toBe(loadConfig({}).temporal.taskQueue);
    expect(config.llm.model).toBe(loadConfig({}).llm.model);
  });

  test("the worker's command calls the real API when a key is given, the llm service otherwise", () => {
    const cmd = services.worker.command;
    expect(Array.isArray(cmd) && cmd.slice(0, 2)).toEqual(['sh', '-c']);
    const script = interpolate((cmd as string[])[2], {});
    expect(script).toContain('exec node dist/src/worker/main.js');
    const baseUrlWith = (host: Record<string, string>) => {
      const env = Object.fromEntries(Object.entries(envOf(services.worker)).map(([k, v]) => [k, interpolate(v, host)]));
      const probe = script.replace('exec node dist/src/worker/main.js', 'printf %s "${ANTHROPIC_BASE_URL-<unset>}"');
      return execFileSync('sh', ['-c', probe], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
    };
    expect(baseUrlWith({})).toBe('http://llm:8787');
    expect(baseUrlWith({ ANTHROPIC_API_KEY: 'sk-ant-test' })).toBe('<unset>');
    expect(baseUrlWith({ ANTHROPIC_API_KEY: 'sk-ant-test', ANTHROPIC_BASE_URL: 'http://proxy.internal:9000' })).toBe('http://proxy.internal:9000');
    expect(loadConfig({ ANTHROPIC_API_KEY: 'sk-ant-test', TEMPORAL_ADDRESS: 'temporal:7233' }).llm.provider).toBe('anthropic');
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');

  test('node:20-slim, npm ci from the lockfile, compiles, runs the compiled worker', () => {
    expect(dockerfile).toMatch(/^FROM node:20-slim$/m);
    expect(dockerfile).toMatch(/^COPY package\.json package-lock\.json \.\/$/m);
    expect(dockerfile).toMatch(/^RUN npm ci\b/m);
    expect(dockerfile).toMatch(/^RUN npm run build$/m);
    expect(dockerfile).toMatch(/^CMD \["node", "dist\/src\/worker\/main\.js"\]$/m);
    expect(dockerfile).not.toMatch(/ANTHROPIC_API_KEY/); // secrets come from the environment, never the image
  });

  test('.dockerignore keeps node_modules, runs and local state out of the build context', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    for (const p of ['node_modules', '.git', 'runs', '.run', '.tools', '.env']) expect(ignored).toContain(p);
  });
});
