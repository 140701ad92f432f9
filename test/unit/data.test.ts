/** Payload encryption (with key rotation) and the codec server, without a Temporal server. */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec, parseKeys } from '../../src/data/encryption-codec';
import { startCodecServer } from '../../src/data/codec-server';

const key = () => randomBytes(32);

describe('EncryptionCodec', () => {
  test('round-trips, hides plaintext, and records the key id', async () => {
    const codec = new EncryptionCodec(new Map([['k1', key()]]), 'k1');
    const plain = defaultPayloadConverter.toPayload({ prompt: 'secret plans' })!;
    const [enc] = await codec.encode([plain]);
    expect(Buffer.from(enc.data!).toString('latin1')).not.toContain('secret plans');
    expect(Buffer.from(enc.metadata!['encryption-key-id']!).toString()).toBe('k1');
    const [dec] = await codec.decode([enc]);
    expect(defaultPayloadConverter.fromPayload(dec)).toEqual({ prompt: 'secret plans' });
  });

  test('rotation: a new current key still decrypts what the old key encrypted; a missing key is named', async () => {
    const old = key();
    const [enc] = await new EncryptionCodec(new Map([['old', old]]), 'old').encode([defaultPayloadConverter.toPayload('x')!]);
    const rotated = new EncryptionCodec(new Map([['new', key()], ['old', old]]), 'new');
    expect(defaultPayloadConverter.fromPayload((await rotated.decode([enc]))[0])).toBe('x');
    const forgot = new EncryptionCodec(new Map([['new', key()]]), 'new');
    await expect(forgot.decode([enc])).rejects.toThrow('encrypted with key "old"');
  });

  test('tampered ciphertext is rejected', async () => {
    const codec = new EncryptionCodec(new Map([['k1', key()]]), 'k1');
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload('x')!]);
    enc.data![20] ^= 1;
    await expect(codec.decode([enc])).rejects.toThrow();
  });

  test('parseKeys reads id:base64 lists and bare keys', () => {
    const a = key().toString('base64');
    expect([...parseKeys(`a:${a},b:${a}`).keys()]).toEqual(['a', 'b']);
    expect([...parseKeys(a).keys()]).toEqual(['k1']);
  });
});

describe('codec server', () => {
  test('decodes payloads for the Web UI with CORS for its origin', async () => {
    const codec = new EncryptionCodec(new Map([['k1', key()]]), 'k1');
    const server = await startCodecServer(codec, { port: 0, allowOrigin: 'http://127.0.0.1:8233' });
    try {
      const [enc] = await codec.encode([defaultPayloadConverter.toPayload({ answer: 42 })!]);
      const body = { payloads: [{ metadata: Object.fromEntries(Object.entries(enc.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])), data: Buffer.from(enc.data!).toString('base64') }] };
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/decode`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
      expect(res.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
      const out = (await res.json()) as { payloads: { data: string }[] };
      expect(JSON.parse(Buffer.from(out.payloads[0].data, 'base64').toString())).toEqual({ answer: 42 });
    } finally {
      server.close();
    }
  });
});
