/** Payload encryption (with key rotation), the codec server and the offloaded payload store, without a Temporal server. */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { parseKeys } from '../../src/config/payloads';
import { EncryptionCodec } from '../../src/data/encryption-codec';
import { startCodecServer } from '../../src/data/codec-server';
import { FileStorageDriver } from '../../src/data/file-storage-driver';

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
    const rotated = new EncryptionCodec(
      new Map([
        ['new', key()],
        ['old', old],
      ]),
      'new',
    );
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
  const token = 'codec-token-0123456789';
  const ui = 'http://127.0.0.1:8233';
  let server: Awaited<ReturnType<typeof startCodecServer>>;
  let codec: EncryptionCodec;
  let body: string;
  let base: string;
  beforeAll(async () => {
    codec = new EncryptionCodec(new Map([['k1', key()]]), 'k1');
    server = await startCodecServer(codec, { port: 0, allowOrigin: ui, token });
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const [enc] = await codec.encode([defaultPayloadConverter.toPayload({ answer: 42 })!]);
    body = JSON.stringify({
      payloads: [
        { metadata: Object.fromEntries(Object.entries(enc.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])), data: Buffer.from(enc.data!).toString('base64') },
      ],
    });
  });
  afterAll(() => server?.close());
  const decoded = async (res: Response) => JSON.parse(Buffer.from(((await res.json()) as { payloads: { data: string }[] }).payloads[0].data, 'base64').toString()) as unknown;

  test('decodes for the Web UI: the token in the endpoint path, CORS for its origin', async () => {
    const res = await fetch(`${base}/${token}/decode`, { method: 'POST', body, headers: { 'content-type': 'application/json', origin: ui } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ui);
    expect(await decoded(res)).toEqual({ answer: 42 });
  });

  test('decodes for the CLI with Authorization: Bearer <token>', async () => {
    const res = await fetch(`${base}/decode`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(await decoded(res)).toEqual({ answer: 42 });
  });

  test.each([
    ['no token', '/decode', {}],
    ['a wrong token in the path', '/codec-token-wrong-012345/decode', {}],
    ['a wrong bearer token', '/decode', { authorization: 'Bearer nope' }],
  ])('refuses %s (401) and decodes nothing', async (_what, route, headers) => {
    const res = await fetch(`${base}${route}`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
    expect(res.status).toBe(401);
    expect(JSON.stringify(await res.json())).not.toContain('answer');
  });

  test('refuses another origin even with the token (403), and sends it no CORS grant', async () => {
    const res = await fetch(`${base}/${token}/decode`, { method: 'POST', body, headers: { 'content-type': 'application/json', origin: 'http://evil.example' } });
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });

  test('listens on 127.0.0.1 by default; a short token is refused', async () => {
    expect((server.address() as AddressInfo).address).toBe('127.0.0.1');
    expect(() => startCodecServer(codec, { port: 0, allowOrigin: ui, token: 'short' })).toThrow('at least 16 characters');
  });
});

describe('offloaded payload store', () => {
  test('prune deletes payloads neither written nor read for the max age, and old half-written files; a read keeps a payload', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'payloads-unit-'));
    const store = new FileStorageDriver(dir);
    const [kept, read, old] = await store.store(
      undefined,
      ['kept', 'read', 'old'].map((v) => defaultPayloadConverter.toPayload(v)!),
    );
    const age = (name: string, ms: number) => fs.utimesSync(path.join(dir, name), new Date(Date.now() - ms), new Date(Date.now() - ms));
    age(read.claimData.key!, 10 * 86_400_000);
    age(old.claimData.key!, 10 * 86_400_000);
    fs.writeFileSync(path.join(dir, 'x.123.tmp'), 'half');
    age('x.123.tmp', 2 * 3_600_000);
    fs.writeFileSync(path.join(dir, 'notes.txt'), 'not ours');
    age('notes.txt', 100 * 86_400_000);
    // Reading a payload (a replay, a result fetched) refreshes it.
    expect(defaultPayloadConverter.fromPayload((await store.retrieve(undefined, [read]))[0])).toBe('read');
    expect(await store.prune(7 * 86_400_000)).toBe(2);
    expect(fs.readdirSync(dir).sort()).toEqual([kept.claimData.key, read.claimData.key, 'notes.txt'].sort());
  });
});
