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
 * details or unknown fields, a malformed list the SDK would reject) goes to the SDK's own code.
 * Only ExternalStorage instances passed to {@link withStoreFastPath} take it; any other
 * ExternalStorage in the process is left to the SDK. If the SDK's runner cannot be loaded from
 * where SDK 1.24 has it, or lacks the two methods, nothing is patched (the package pins the SDK's
 * version; a consumer whose worker loads another copy of `@temporalio/common` gets no fast path,
 * and loses nothing). `test/unit/extstore-fast-path.test.ts` holds both paths to the same results.
 */
import type { ExternalStorage, Payload } from '@temporalio/common';
import type { ExternalStorageRunner } from '@temporalio/common/lib/internal-non-workflow/external-storage-runner';

type RunnerMethods = Pick<ExternalStorageRunner, 'store' | 'retrieve'>;

/** The SDK's runner prototype and reference check, or undefined when they are not where and what SDK 1.24 has. */
function sdkInternals(): { proto: RunnerMethods; isReferencePayload: (p: Payload) => boolean } | undefined {
  try {
    const proto = (require('@temporalio/common/lib/internal-non-workflow/external-storage-runner') as { ExternalStorageRunner?: { prototype?: Partial<RunnerMethods> } })
      .ExternalStorageRunner?.prototype;
    const { isReferencePayload } = require('@temporalio/common/lib/internal-non-workflow/extstore-helpers') as { isReferencePayload?: (p: Payload) => boolean };
    if (typeof proto?.store !== 'function' || typeof proto.retrieve !== 'function' || typeof isReferencePayload !== 'function') return undefined;
    return { proto: proto as RunnerMethods, isReferencePayload };
  } catch {
    return undefined;
  }
}

/** The ExternalStorage instances that take the fast path. */
const fastPathed = new WeakSet<ExternalStorage>();

/** Whether the runner is patched: undefined until first asked. */
let patched: boolean | undefined;

/**
 * An upper bound of the payload's protobuf size, or undefined when it cannot say: a payload with
 * more than metadata and data (external details, unknown fields kept from a decode), or a
 * malformed one (no payload, a metadata value missing), which the SDK's path then rejects as it
 * always did. Each map entry: key and value fields with their tags and length varints, in an entry
 * with its own tag and length (≤ 18 bytes), a key of at most 3 UTF-8 bytes per UTF-16 unit; data:
 * tag and length (≤ 6 bytes).
 */
export function payloadSizeAtMost(payload: Payload | null | undefined): number | undefined {
  if (payload == null) return undefined;
  const extra = payload as { externalPayloads?: unknown[]; $unknowns?: unknown[] };
  if (extra.externalPayloads?.length || extra.$unknowns?.length) return undefined;
  let size = (payload.data?.length ?? 0) + 6;
  const metadata = payload.metadata;
  if (metadata) {
    for (const key in metadata) {
      const value = metadata[key];
      if (value == null) return undefined;
      size += key.length * 3 + value.length + 18;
    }
  }
  return size;
}

/** Whether every entry of the list is a payload whose size bound is under `threshold` (holes and nulls are not). */
function allUnder(payloads: Payload[], threshold: number): boolean {
  for (let i = 0; i < payloads.length; i++) {
    const size = payloadSizeAtMost(payloads[i]);
    if (size === undefined || !(size < threshold)) return false;
  }
  return true;
}

/** Whether no entry is a reference (a hole or a null is left to the SDK, as it always was). */
function noReference(payloads: Payload[], isReferencePayload: (p: Payload) => boolean): boolean {
  for (let i = 0; i < payloads.length; i++) {
    const p = payloads[i];
    if (p == null || isReferencePayload(p)) return false;
  }
  return true;
}

/** Patches the runner's prototype once; false when it does not look as expected. */
function patchRunner(): boolean {
  if (patched !== undefined) return patched;
  const sdk = sdkInternals();
  if (!sdk) return (patched = false);
  const { proto, isReferencePayload } = sdk;
  const { store, retrieve } = proto;
  const storageOf = (runner: unknown) => (runner as { externalStorage?: ExternalStorage }).externalStorage;

  proto.store = function (this: ExternalStorageRunner, payloads, options) {
    const storage = storageOf(this);
    if (storage && fastPathed.has(storage) && allUnder(payloads, storage.payloadSizeThreshold)) return Promise.resolve(payloads);
    return store.call(this, payloads, options);
  };
  proto.retrieve = function (this: ExternalStorageRunner, payloads, options) {
    const storage = storageOf(this);
    if (storage && fastPathed.has(storage) && noReference(payloads, isReferencePayload)) return Promise.resolve(payloads);
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
