/** Clients start the run workflows by type name and build the protocol's definitions without the workflow SDK: both must match what the workflows use. */
import { RUN_WORKFLOW_TYPES } from '../../src/core/names';
import * as workflows from '../../src/workflows';

test('every workflow type a client starts by name is the name of the workflow the bundle exports', () => {
  for (const [key, type] of Object.entries(RUN_WORKFLOW_TYPES)) {
    const fn = (workflows as Record<string, unknown>)[type];
    expect(typeof fn).toBe('function');
    expect((fn as { name: string }).name).toBe(key);
  }
});

test("the protocol's definitions are the objects the SDK's defineQuery, defineSignal and defineUpdate build", async () => {
  const sdk = await import('@temporalio/workflow');
  const protocol = await import('../../src/protocol');
  const defs = Object.values(protocol) as { type: string; name: string }[];
  expect(defs.length).toBeGreaterThan(5);
  for (const d of defs) {
    const built = d.type === 'query' ? sdk.defineQuery(d.name) : d.type === 'signal' ? sdk.defineSignal(d.name) : sdk.defineUpdate(d.name);
    expect(d).toEqual(built);
  }
});
