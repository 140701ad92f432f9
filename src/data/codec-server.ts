/**
 * A remote codec server for the Temporal Web UI and CLI (`/encode`, `/decode`), so encrypted
 * payloads can be read in the UI by people who hold the key — the key never leaves this process.
 * It decodes only for callers that present its token — as the first path segment, which is how
 * the Web UI's codec endpoint setting carries it (`http://127.0.0.1:8888/<token>`), or as
 * `Authorization: Bearer <token>` (the `temporal` CLI's `--codec-auth`) — and answers browsers
 * only from the Web UI's origin. It listens on 127.0.0.1 unless told otherwise.
 * Start it with `npm run codec-server`; it prints the endpoint to give the dev server.
 */
import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});

const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

/** Compares secrets in constant time. */
function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Starts the codec server; `allowOrigin` is the Web UI's origin (CORS), `token` the secret callers present. */
export function startCodecServer(codec: PayloadCodec, opts: { port: number; host?: string; allowOrigin: string; token: string }): Promise<http.Server> {
  if (opts.token.length < 16) throw new Error('the codec server token must be at least 16 characters');
  const server = http.createServer((req, res) => {
    const deny = (status: number, error: string) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error }));
    // Browsers: only the Web UI's origin may call (and read the answer).
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== opts.allowOrigin) return deny(403, `origin ${origin} is not allowed`);
    if (origin !== undefined) {
      res.setHeader('access-control-allow-origin', opts.allowOrigin);
      res.setHeader('vary', 'origin');
      res.setHeader('access-control-allow-methods', 'POST, OPTIONS');
      res.setHeader('access-control-allow-headers', 'content-type, x-namespace, authorization');
      res.setHeader('access-control-allow-credentials', 'true');
    }
    if (req.method === 'OPTIONS') {
      res.writeHead(204).end();
      return;
    }
    // The token: `/<token>/decode` (the Web UI's endpoint setting) or `Authorization: Bearer <token>`.
    let route = req.url?.split('?')[0] ?? '/';
    const segments = route.split('/').filter(Boolean);
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    let authorized = bearer !== undefined && sameSecret(bearer, opts.token);
    if (segments.length === 2 && sameSecret(decodeURIComponent(segments[0]), opts.token)) {
      authorized = true;
      route = `/${segments[1]}`;
    }
    if (!authorized) return deny(401, 'a valid codec token is required (endpoint http://<host>:<port>/<token>, or Authorization: Bearer <token>)');
    if (req.method !== 'POST' || (route !== '/encode' && route !== '/decode')) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'POST /encode or /decode' }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { payloads?: JsonPayload[] };
          const payloads = (body.payloads ?? []).map(fromJson);
          const out = route === '/encode' ? await codec.encode(payloads) : await codec.decode(payloads);
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ payloads: out.map(toJson) }));
        } catch (err) {
          res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) }));
        }
      })();
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => resolve(server));
  });
}
