/**
 * A fast path in front of the SDK's external-storage runner, for this project's ExternalStorage.
 *
 * With an ExternalStorage configured, the worker passes every payload list it sends or receives
 * through `ExternalStorageRunner.store` / `retrieve`: each workflow activation and completion,
 * activity task and completion, heartbeat. Before any size or reference check, each call builds
 * an AbortController and an `AbortSignal.any`, and `store` protobuf-encodes every payload to learn
 * its size: 17–29 µs per payload list against 2 µs with no external storage (by hand, 100-payload
 * activations and completions, SDK 1.24), and a local LLM call goes through four of them. Almost
 * every list is below the offload threshold and holds no reference, so the fast path answers that
 * case first, with exactly what the runner returns for it:
 * - `store`: when an upper bound of every payload's encoded size is under the threshold, the
 *   same array (the runner returns its input when no payload reaches the threshold);
 * - `retrieve`: when no payload is a reference, the same array (likewise).
 * Everything else (a payload that may reach the threshold, a reference, a payload with external
 * details) goes to the SDK's own code. Only ExternalStorage instances passed to
 * {@link withStoreFastPath} take it; any other ExternalStorage in the process is left to the SDK.
 * If the SDK's runner is not where or what this expects (another SDK version), nothing is patched.
 * `test/unit/extstore-fast-path.test.ts` holds both paths to the same results.
 */
import type { ExternalStorage, Payload } from '@temporalio/common';
import { ExternalStorageRunner } from '@temporalio/common/lib/internal-non-workflow/external-storage-runner';
import { isReferencePayload } from '@temporalio/common/lib/internal-non-workflow/extstore-helpers';

/** The ExternalStorage instances that take the fast path. */
const fastPathed = new WeakSet<ExternalStorage>();

/** Whether the runner is patched: undefined until first asked. */
let patched: boolean | undefined;

/**
 * An upper bound of the payload's protobuf size, or undefined when it has more than metadata and
 * data. Each map entry: key and value fields with their tags and length varints, in an entry
 * with its own tag and length (≤ 18 bytes), a key of at most 3 UTF-8 bytes per UTF-16 unit; data:
 * tag and length (≤ 6 bytes).
 */
export function payloadSizeAtMost(payload: Payload): number | undefined {
  if ((payload as { externalPayloads?: unknown[] }).externalPayloads?.length) return undefined;
  let size = (payload.data?.length ?? 0) + 6;
  const metadata = payload.metadata;
  if (metadata) {
    for (const key in metadata) size += key.length * 3 + (metadata[key]?.length ?? 0) + 18;
  }
  return size;
}

type RunnerMethods = Pick<ExternalStorageRunner, 'store' | 'retrieve'>;

/** Patches the runner's prototype once; false when it does not look as expected. */
function patchRunner(): boolean {
  if (patched !== undefined) return patched;
  const proto = (ExternalStorageRunner as { prototype?: Partial<RunnerMethods> } | undefined)?.prototype;
  if (typeof proto?.store !== 'function' || typeof proto.retrieve !== 'function' || typeof isReferencePayload !== 'function') return (patched = false);
  const { store, retrieve } = proto as RunnerMethods;
  const storageOf = (runner: unknown) => (runner as { externalStorage?: ExternalStorage }).externalStorage;

  proto.store = function (this: ExternalStorageRunner, payloads, options) {
    const storage = storageOf(this);
    if (storage && fastPathed.has(storage)) {
      const threshold = storage.payloadSizeThreshold;
      if (
        payloads.every((p) => {
          const size = payloadSizeAtMost(p);
          return size !== undefined && size < threshold;
        })
      ) {
        return Promise.resolve(payloads);
      }
    }
    return store.call(this, payloads, options);
  };
  proto.retrieve = function (this: ExternalStorageRunner, payloads, options) {
    const storage = storageOf(this);
    if (storage && fastPathed.has(storage) && !payloads.some(isReferencePayload)) return Promise.resolve(payloads);
    return retrieve.call(this, payloads, options);
  };
  return (patched = true);
}

/** Registers `storage` for the fast path (patching the runner on first use); returns it. */
export function withStoreFastPath(storage: ExternalStorage): ExternalStorage {
  if (patchRunner()) fastPathed.add(storage);
  return storage;
}

/** Whether `storage` takes the fast path (false when the runner could not be patched). */
export function takesStoreFastPath(storage: ExternalStorage): boolean {
  return fastPathed.has(storage);
}
