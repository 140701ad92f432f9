/** Configuration from the environment (pure). */
import { ConfigError, loadConfig, workflowUiLink } from '../../src/config';

describe('loadConfig', () => {
  test('eager activity slots (unset: LLM_MAX_CONCURRENT, in createWorkers) and the first heartbeat delay (0: at once; at most 8 s)', () => {
    expect(loadConfig({}).worker).toMatchObject({ eagerActivitySlots: undefined, firstHeartbeatDelayMs: 0 });
    expect(loadConfig({ EAGER_ACTIVITY_SLOTS: '0', LLM_FIRST_HEARTBEAT_MS: '2000' }).worker).toMatchObject({ eagerActivitySlots: 0, firstHeartbeatDelayMs: 2000 });
    expect(() => loadConfig({ LLM_FIRST_HEARTBEAT_MS: '9000' })).toThrow(/LLM_FIRST_HEARTBEAT_MS must be at most 8000/);
    expect(() => loadConfig({ EAGER_ACTIVITY_SLOTS: 'many' })).toThrow(/EAGER_ACTIVITY_SLOTS must be a whole number/);
  });

  test('defaults: local dev server and local LLM server', () => {
    const c = loadConfig({});
    expect(c.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', uiUrl: 'http://127.0.0.1:8233', taskQueue: 'agents' });
    expect(c.llm).toMatchObject({ provider: 'local', baseURL: 'http://127.0.0.1:8787' });
    expect(workflowUiLink(c, 'a b')).toBe('http://127.0.0.1:8233/namespaces/default/workflows/a%20b');
  });
  test('a real key without a base URL targets the real API', () => {
    const c = loadConfig({ ANTHROPIC_API_KEY: 'sk-ant-xyz' });
    expect(c.llm).toMatchObject({ provider: 'anthropic', baseURL: undefined, apiKey: 'sk-ant-xyz' });
  });
  test('a trailing /v1 on the base URL is removed (the SDK adds it)', () => {
    expect(loadConfig({ ANTHROPIC_BASE_URL: 'http://127.0.0.1:9999/v1/' }).llm.baseURL).toBe('http://127.0.0.1:9999');
  });
  test('targeting the real API without a key is a clear error', () => {
    expect(() => loadConfig({ LLM_PROVIDER: 'anthropic' })).toThrow(/ANTHROPIC_API_KEY is missing/);
    expect(() => loadConfig({ ANTHROPIC_BASE_URL: 'https://api.anthropic.com' })).toThrow(/ANTHROPIC_API_KEY is missing/);
  });
  test('bad values are named', () => {
    expect(() => loadConfig({ LLM_MAX_CONCURRENT: 'many', LLM_RPM: '-3' })).toThrow(ConfigError);
    expect(() => loadConfig({ LLM_MAX_CONCURRENT: 'many' })).toThrow(/LLM_MAX_CONCURRENT: LLM_MAX_CONCURRENT must be a whole number/);
  });
});
