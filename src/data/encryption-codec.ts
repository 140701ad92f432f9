/**
 * AES-256-GCM payload encryption, so prompts and outputs are stored encrypted in Temporal's
 * history. Each encrypted payload records the id of its key, so keys can be rotated: encrypt with
 * the current key, decrypt with any key still listed.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { ValueError, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

/** Metadata value that marks a payload as encrypted by this codec. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
const ENCODING_KEY = 'encoding';
const KEY_ID_KEY = 'encryption-key-id';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : undefined);

/** A payload codec that encrypts with the current key and decrypts with any known key. */
export class EncryptionCodec implements PayloadCodec {
  constructor(
    private readonly keys: Map<string, Buffer>,
    private readonly currentKeyId: string,
  ) {
    const key = keys.get(currentKeyId);
    if (!key) throw new ValueError(`encryption key "${currentKeyId}" is not among the configured keys`);
    for (const [id, k] of keys) if (k.length !== 32) throw new ValueError(`encryption key "${id}" must be 32 bytes (base64 of 32 random bytes), got ${k.length}`);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.currentKeyId)!;
    return payloads.map((p) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, key, iv);
      const plain = temporal.api.common.v1.Payload.encode(p).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { [ENCODING_KEY]: text(ENCRYPTED_ENCODING), [KEY_ID_KEY]: text(this.currentKeyId) }, data };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => {
      if (str(p.metadata?.[ENCODING_KEY]) !== ENCRYPTED_ENCODING) return p;
      const keyId = str(p.metadata?.[KEY_ID_KEY]) ?? '';
      const key = this.keys.get(keyId);
      if (!key) throw new ValueError(`cannot decrypt a payload encrypted with key "${keyId}": that key is not configured (PAYLOAD_ENCRYPTION_KEYS)`);
      const data = Buffer.from(p.data ?? new Uint8Array());
      const iv = data.subarray(0, IV_BYTES);
      const tag = data.subarray(data.length - TAG_BYTES);
      const decipher = createDecipheriv(ALGORITHM, key, iv);
      decipher.setAuthTag(tag);
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}
