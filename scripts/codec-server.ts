/** `npm run codec-server`: decodes encrypted payloads for the Web UI (PAYLOAD_ENCRYPTION_KEYS must be set). */
import { loadConfig } from '../src/config';
import { EncryptionCodec } from '../src/data/encryption-codec';
import { startCodecServer } from '../src/data/codec-server';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.payloads.encryption) throw new Error('PAYLOAD_ENCRYPTION_KEYS is not set: there is nothing to decode');
  const port = Number(process.env.CODEC_SERVER_PORT ?? 8888);
  const codec = new EncryptionCodec(config.payloads.encryption.keys, config.payloads.encryption.currentKeyId);
  await startCodecServer(codec, { port, allowOrigin: config.temporal.uiUrl });
  console.log(`codec server on http://127.0.0.1:${port} for ${config.temporal.uiUrl}; start the dev server with --ui-codec-endpoint http://127.0.0.1:${port}`);
}

main().catch((err: unknown) => {
  console.error(`codec-server: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
