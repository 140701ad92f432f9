/**
 * `npm run codec-server`: decodes encrypted payloads for the Web UI (PAYLOAD_ENCRYPTION_KEYS must be
 * set). Callers present CODEC_SERVER_TOKEN (a random one is made when unset); it listens on
 * CODEC_SERVER_HOST (127.0.0.1) and CODEC_SERVER_PORT (8888).
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config';
import { EncryptionCodec } from '../src/data/encryption-codec';
import { startCodecServer } from '../src/data/codec-server';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.payloads.encryption) throw new Error('PAYLOAD_ENCRYPTION_KEYS is not set: there is nothing to decode');
  const port = Number(process.env.CODEC_SERVER_PORT ?? 8888);
  const host = process.env.CODEC_SERVER_HOST?.trim() || '127.0.0.1';
  const given = process.env.CODEC_SERVER_TOKEN?.trim();
  if (given !== undefined && given.length < 16) throw new Error('CODEC_SERVER_TOKEN must be at least 16 characters');
  const token = given || randomBytes(24).toString('base64url');
  const codec = new EncryptionCodec(config.payloads.encryption.keys, config.payloads.encryption.currentKeyId);
  await startCodecServer(codec, { port, host, allowOrigin: new URL(config.temporal.uiUrl).origin, token });
  // The token is this server's own secret, shown once so it can be given to the Web UI.
  const endpoint = `http://${host}:${port}/${encodeURIComponent(token)}`;
  console.log(`codec server for ${config.temporal.uiUrl}: start the dev server with --ui-codec-endpoint ${endpoint} (or set it in the Web UI's codec settings)`);
}

main().catch((err: unknown) => {
  console.error(`codec-server: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
