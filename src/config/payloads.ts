/** PAYLOAD_*: encryption of every payload, and offloading of large ones out of history. */
import { z } from 'zod';
import { ConfigError, dirFrom, intFrom } from './env';

/** Payload settings, as the data converter takes them (tests build them by hand, so the shape is declared). */
export interface PayloadSettings {
  /** AES-256-GCM encryption of every payload; absent = plaintext. */
  encryption?: { keys: Map<string, Buffer>; currentKeyId: string };
  /** Payloads larger than this go to storeDir instead of history (0 = never). */
  offloadBytes: number;
  storeDir: string;
  /** Offloaded payloads neither written nor read for this long are deleted by the LLM workers. */
  maxAgeMs?: number;
}

export const payloadsEnv = z
  .object({
    PAYLOAD_ENCRYPTION_KEYS: z.string().trim().optional(),
    PAYLOAD_ENCRYPTION_KEY_ID: z.string().trim().min(1).optional(),
    PAYLOAD_STORE_DIR: dirFrom('runs/payloads'),
    PAYLOAD_OFFLOAD_BYTES: intFrom('PAYLOAD_OFFLOAD_BYTES', 0).default(256 * 1024),
    PAYLOAD_MAX_AGE_SECONDS: intFrom('PAYLOAD_MAX_AGE_SECONDS', 3600).default(30 * 86_400),
  })
  .transform((e): { payloads: PayloadSettings } => ({
    payloads: {
      encryption: e.PAYLOAD_ENCRYPTION_KEYS ? encryptionFrom(e.PAYLOAD_ENCRYPTION_KEYS, e.PAYLOAD_ENCRYPTION_KEY_ID) : undefined,
      offloadBytes: e.PAYLOAD_OFFLOAD_BYTES,
      storeDir: e.PAYLOAD_STORE_DIR,
      maxAgeMs: e.PAYLOAD_MAX_AGE_SECONDS * 1000,
    },
  }));
export type PayloadsConfig = z.infer<typeof payloadsEnv>;

/** Parses `id:base64,id2:base64` (or a bare base64 key, id `k1`) into keys. */
export function parseKeys(spec: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const part of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const i = part.indexOf(':');
    const [id, b64] = i > 0 ? [part.slice(0, i), part.slice(i + 1)] : ['k1', part];
    keys.set(id, Buffer.from(b64, 'base64'));
  }
  return keys;
}

/** Keys from `id:base64,...`; the current key is PAYLOAD_ENCRYPTION_KEY_ID or the first listed. */
function encryptionFrom(spec: string, currentId: string | undefined): { keys: Map<string, Buffer>; currentKeyId: string } {
  const keys = parseKeys(spec);
  for (const [id, k] of keys) {
    if (k.length !== 32) throw new ConfigError(`PAYLOAD_ENCRYPTION_KEYS: key "${id}" must be base64 of 32 bytes (e.g. \`openssl rand -base64 32\`), got ${k.length} bytes`);
  }
  const currentKeyId = currentId ?? [...keys.keys()][0];
  if (!keys.has(currentKeyId)) throw new ConfigError(`PAYLOAD_ENCRYPTION_KEY_ID "${currentKeyId}" is not among PAYLOAD_ENCRYPTION_KEYS`);
  return { keys, currentKeyId };
}
