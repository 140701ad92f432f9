/**
 * External storage for payloads too large for history (Temporal's claim-check support): large
 * inputs and outputs are written to a directory shared by workers and clients and replaced in
 * history by a small reference. Content-addressed (sha256), so identical payloads are stored once.
 * A shared store (S3, GCS) would implement the same StorageDriver interface.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { StorageDriverClaim, type Payload, type StorageDriver } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { removeOldFiles } from './old-files';

/** Stores payloads as files named by their hash. */
export class FileStorageDriver implements StorageDriver {
  readonly name = 'local-files';
  readonly type = 'durable-agents.file';

  constructor(private readonly dir: string) {}

  async store(_ctx: unknown, payloads: Payload[]): Promise<StorageDriverClaim[]> {
    await fs.mkdir(this.dir, { recursive: true });
    return Promise.all(
      payloads.map(async (p) => {
        const bytes = temporal.api.common.v1.Payload.encode(p).finish();
        const key = createHash('sha256').update(bytes).digest('hex');
        const file = path.join(this.dir, key);
        // Write then rename, so a reader never sees half a file.
        const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
        await fs.writeFile(tmp, bytes);
        await fs.rename(tmp, file);
        return new StorageDriverClaim({ key });
      }),
    );
  }

  /**
   * Deletes payloads neither written nor read for `maxAgeMs` (and half-written leftovers), so the
   * folder does not grow forever: every store and every read refreshes a payload's time. A payload
   * is needed while a history that references it exists: keep `maxAgeMs` above the namespace's
   * retention plus the longest a run stays open without being replayed.
   */
  prune(maxAgeMs: number): Promise<number> {
    return removeOldFiles(this.dir, (name) => (/^[0-9a-f]{64}$/.test(name) ? maxAgeMs : name.endsWith('.tmp') ? Math.min(maxAgeMs, 3_600_000) : undefined));
  }

  async retrieve(_ctx: unknown, claims: StorageDriverClaim[]): Promise<Payload[]> {
    return Promise.all(
      claims.map(async (c) => {
        const key = c.claimData.key ?? '';
        if (!/^[0-9a-f]{64}$/.test(key)) throw new Error(`invalid payload claim "${key}"`);
        try {
          const file = path.join(this.dir, key);
          const bytes = await fs.readFile(file);
          // Still in use (a replay, a result fetched): not old, whatever its first write.
          const now = new Date();
          await fs.utimes(file, now, now).catch(() => {});
          return temporal.api.common.v1.Payload.decode(bytes);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
            throw new Error(`payload ${key} is missing from ${this.dir}: workers and clients must share PAYLOAD_STORE_DIR`);
          }
          throw err;
        }
      }),
    );
  }
}
