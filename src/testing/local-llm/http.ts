/** HTTP plumbing shared by the local LLM server's routes: the API's error shape, JSON replies, bounded body reads. */
import type * as http from 'node:http';

const DEFAULT_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

/** The real API's `error.type` for an HTTP status (api_error for unknown 5xx, invalid_request_error otherwise). */
export function defaultErrorType(status: number): string {
  return DEFAULT_ERROR_TYPES[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
}

/** The real API rejects bodies over 32 MB; mirroring that also bounds what one request can make us buffer. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** An error answered with its status in the API's error shape. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errorType = defaultErrorType(status),
  ) {
    super(message);
  }
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** `{ type: 'error', error: { type, message } }`, as the real API answers errors. */
export function sendError(res: http.ServerResponse, status: number, message: string, errorType = defaultErrorType(status), headers: Record<string, string> = {}): void {
  sendJson(res, status, { type: 'error', error: { type: errorType, message } }, headers);
}

/** Reads the whole body; rejects with a 413 HttpError past the size cap. */
export function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Keep draining instead of destroying the socket, so the client actually receives the 413.
      if (size > MAX_BODY_BYTES) chunks = [];
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) reject(new HttpError(413, `request body exceeds ${MAX_BODY_BYTES} bytes`));
      else resolve(Buffer.concat(chunks).toString('utf8'));
    });
    req.on('error', reject);
    // A client that disconnects mid-body never gets 'end'; settle so the handler does not leak.
    req.on('close', () => {
      if (!req.complete) reject(new Error('client disconnected while sending the body'));
    });
  });
}

/** The `request-id` header of request number `id`. */
export function requestId(id: number): string {
  return `req_local_${id.toString(36).padStart(8, '0')}`;
}

/** A copy of `o` without its undefined fields (so spreading it does not override defaults). */
export function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
