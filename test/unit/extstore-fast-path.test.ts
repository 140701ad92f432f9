/**
 * The fast path in front of the SDK's external-storage runner gives the runner's own results: the
 * same list when nothing reaches the threshold or is a reference, and the SDK's offload and
 * retrieval for everything else. It applies to the project's ExternalStorage only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ExternalStorage, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { ExternalStorageRunner } from '@temporalio/common/lib/internal-non-workflow/external-storage-runner';
import { isReferencePayload } from '@temporalio/common/lib/internal-non-workflow/extstore-helpers';
import { extstoreStoreOptions, visit, walkWorkflowActivationCompletion } from '@temporalio/common/lib/internal-non-workflow';
import { temporal, type coresdk } from '@temporalio/proto';
import { buildDataConverter } from '../../src/data/data-converter';
import { payloadSizeAtMost, takesStoreFastPath, withStoreFastPath } from '../../src/data/extstore-fast-path';
import { FileStorageDriver } from '../../src/data/file-storage-driver';

const THRESHOLD = 4096;
const encodedSize = (p: Payload) => temporal.api.common.v1.Payload.encode(p).finish().length;
const json = (v: unknown) => defaultPayloadConverter.toPayload(v)!;
/** A JSON payload whose encoded size is exactly `size`. */
function payloadOfSize(size: number): Payload {
  let text = 'x'.repeat(Math.max(0, size - 40));
  for (;;) {
    const p = json(text);
    const n = encodedSize(p);
    if (n === size) return p;
    text = n < size ? `${text}x` : text.slice(0, -1);
  }
}

describe('external-storage fast path', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'extstore-fast-'));
  const make = () => new ExternalStorage({ drivers: [new FileStorageDriver(dir)], payloadSizeThreshold: THRESHOLD });
  const fast = withStoreFastPath(make());
  const sdk = make();
  const runner = (s: ExternalStorage) => new ExternalStorageRunner(s);

  test("the project's data converter takes it; another ExternalStorage in the process does not", () => {
    // Fails when the SDK's runner is not where or what the fast path expects (nothing patched).
    expect(takesStoreFastPath(buildDataConverter({ offloadBytes: THRESHOLD, storeDir: dir, encryption: undefined }).externalStorage!)).toBe(true);
    expect(takesStoreFastPath(fast)).toBe(true);
    expect(takesStoreFastPath(sdk)).toBe(false);
  });

  test('the size bound is never below the encoded size (metadata, unicode keys, empty data, external details)', () => {
    const samples: Payload[] = [
      {},
      { data: new Uint8Array(0) },
      { metadata: {}, data: new Uint8Array(300) },
      { metadata: { 'ключ-ü-😀': new Uint8Array(70_000), encoding: Buffer.from('json/plain') }, data: new Uint8Array(200_000) },
      { metadata: { ['ключ'.repeat(25)]: new Uint8Array(100), ['€'.repeat(300)]: new Uint8Array(0) }, data: new Uint8Array(10) },
      json({ prompt: 'p'.repeat(5000), n: 1 }),
    ];
    for (let i = 0; i < 200; i++) {
      const metadata: Record<string, Uint8Array> = {};
      for (let k = 0; k < i % 4; k++) metadata[`k${k}-${'é'.repeat(i % 7)}`] = new Uint8Array((i * 37 + k * 101) % 1000);
      samples.push({ metadata, data: new Uint8Array((i * 7919) % 20_000) });
    }
    for (const p of samples) expect(payloadSizeAtMost(p)).toBeGreaterThanOrEqual(encodedSize(p));
    // Left to the SDK: external details, unknown fields kept from a decode, malformed entries.
    expect(payloadSizeAtMost({ data: new Uint8Array(1), externalPayloads: [{}] } as unknown as Payload)).toBeUndefined();
    expect(payloadSizeAtMost({ data: new Uint8Array(1), $unknowns: [new Uint8Array(600)] } as unknown as Payload)).toBeUndefined();
    expect(payloadSizeAtMost({ metadata: { encoding: undefined } } as unknown as Payload)).toBeUndefined();
    expect(payloadSizeAtMost(null)).toBeUndefined();
  });

  test('lists below the threshold come back as they are, without the per-call signals', async () => {
    const any = jest.spyOn(AbortSignal, 'any');
    try {
      const lists = [[], [json({ a: 1 })], [json('x'), payloadOfSize(THRESHOLD - 200)]];
      for (const list of lists) {
        await expect(runner(fast).store(list, { abortSignal: new AbortController().signal })).resolves.toBe(list);
        await expect(runner(fast).retrieve(list, { abortSignal: new AbortController().signal })).resolves.toBe(list);
      }
      expect(any).not.toHaveBeenCalled();
      // The SDK's path for the same lists: same results, one signal per non-empty call.
      for (const list of lists) {
        await expect(runner(sdk).store(list, { abortSignal: new AbortController().signal })).resolves.toBe(list);
        await expect(runner(sdk).retrieve(list, { abortSignal: new AbortController().signal })).resolves.toBe(list);
      }
      expect(any).toHaveBeenCalledTimes(4);
    } finally {
      any.mockRestore();
    }
  });

  test('at and around the threshold both paths offload exactly the same payloads, and retrieval gives the bytes back', async () => {
    const list = [json('small'), payloadOfSize(THRESHOLD - 1), payloadOfSize(THRESHOLD), payloadOfSize(THRESHOLD + 1), payloadOfSize(3 * THRESHOLD)];
    const viaFast = await runner(fast).store(list);
    const viaSdk = await runner(sdk).store(list);
    expect(viaFast.map(isReferencePayload)).toEqual([false, false, true, true, true]);
    expect(viaSdk.map(isReferencePayload)).toEqual(viaFast.map(isReferencePayload));
    expect(viaFast[0]).toBe(list[0]);
    expect(viaFast[1]).toBe(list[1]);
    for (const stored of [viaFast, viaSdk]) {
      const back = await runner(fast).retrieve(stored);
      expect(back.map((p) => Buffer.from(p.data!).toString('base64'))).toEqual(list.map((p) => Buffer.from(p.data!).toString('base64')));
    }
  });

  test('the decision at the threshold: a bound under it takes the fast path, a bound at it goes to the SDK, which offloads from the real size on', async () => {
    const any = jest.spyOn(AbortSignal, 'any');
    const signal = () => ({ abortSignal: new AbortController().signal });
    /** A payload whose size bound is exactly `bound` (8-character key: 24 + its 10-byte value + 18; data: + 6). */
    const withBound = (bound: number): Payload => ({ metadata: { encoding: Buffer.from('json/plain') }, data: new Uint8Array(bound - 58) });
    try {
      const under = [withBound(THRESHOLD - 1)];
      expect(payloadSizeAtMost(under[0])).toBe(THRESHOLD - 1);
      await expect(runner(fast).store(under, signal())).resolves.toBe(under);
      expect(any).not.toHaveBeenCalled();

      const atBound = [withBound(THRESHOLD)];
      expect(encodedSize(atBound[0])).toBeLessThan(THRESHOLD);
      await expect(runner(fast).store(atBound, signal())).resolves.toBe(atBound); // the SDK's answer: inline
      expect(any).toHaveBeenCalledTimes(1);

      for (const size of [THRESHOLD - 1, THRESHOLD, THRESHOLD + 1]) {
        const list = [payloadOfSize(size)];
        const viaFast = await runner(fast).store(list, signal());
        const viaSdk = await runner(sdk).store(list, signal());
        expect(viaFast.map(isReferencePayload)).toEqual([size >= THRESHOLD]);
        expect(viaSdk.map(isReferencePayload)).toEqual([size >= THRESHOLD]);
        if (size < THRESHOLD) expect(viaFast).toBe(list);
      }
    } finally {
      any.mockRestore();
    }
  });

  test('a malformed list is left to the SDK, which rejects it as before', async () => {
    const bad = [{ metadata: { encoding: undefined } } as unknown as Payload];
    await expect(runner(sdk).store(bad)).rejects.toThrow();
    await expect(runner(fast).store(bad)).rejects.toThrow();
    const holey = new Array<Payload>(2);
    holey[1] = json('x');
    await expect(runner(sdk).retrieve(holey)).rejects.toThrow();
    await expect(runner(fast).retrieve(holey)).rejects.toThrow();
  });

  test('a workflow completion visited as the worker does: the large argument is offloaded, the small one stays inline', async () => {
    const small = json({ prompt: 'hi' });
    const large = payloadOfSize(2 * THRESHOLD);
    const completion: coresdk.workflow_completion.IWorkflowActivationCompletion = {
      runId: 'run',
      successful: {
        commands: [
          { scheduleLocalActivity: { seq: 1, activityId: '1', activityType: 'callLlm', arguments: [small] } },
          { scheduleActivity: { seq: 2, activityId: '2', activityType: 'callLlm', arguments: [large] } },
        ],
      },
    };
    await visit(
      completion,
      walkWorkflowActivationCompletion,
      extstoreStoreOptions(fast, { initialTarget: { kind: 'workflow', namespace: 'default', id: 'wf', runId: 'run', type: 'fanOut' } }),
    );
    const [a, b] = completion.successful!.commands!;
    expect(a.scheduleLocalActivity!.arguments![0]).toBe(small);
    expect(isReferencePayload(b.scheduleActivity!.arguments![0] as Payload)).toBe(true);
  });
});
