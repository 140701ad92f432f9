/** The data converter every worker and client of this project uses (encryption and large-payload offload per config). */
import { ExternalStorage, type DataConverter } from '@temporalio/common';
import type { Config } from '../config';
import { EncryptionCodec } from './encryption-codec';
import { withStoreFastPath } from './extstore-fast-path';
import { FileStorageDriver } from './file-storage-driver';

/** Builds the data converter from config; the same one must be used by workers and clients. */
export function buildDataConverter(payloads: Config['payloads']): DataConverter {
  const dc: DataConverter = {};
  if (payloads.encryption) dc.payloadCodecs = [new EncryptionCodec(payloads.encryption.keys, payloads.encryption.currentKeyId)];
  if (payloads.offloadBytes > 0) {
    // The fast path skips the SDK's per-list signals and encoding for lists below the threshold (extstore-fast-path.ts).
    dc.externalStorage = withStoreFastPath(new ExternalStorage({ drivers: [new FileStorageDriver(payloads.storeDir)], payloadSizeThreshold: payloads.offloadBytes }));
  }
  return dc;
}
