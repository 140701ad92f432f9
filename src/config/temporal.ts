/** TEMPORAL_*: how workers, clients and scripts reach Temporal, and the task queue they share. */
import type { TLSConfig } from '@temporalio/common/lib/internal-non-workflow';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from '../core/names';
import { ConfigError } from './env';

/** How to reach Temporal, for both NativeConnection (worker) and Connection (client). */
export interface TemporalConnection {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
  metadata?: Record<string, string>;
}

/**
 * Loose: Temporal's own config loader also reads the variables this schema does not name
 * (TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE…), so they pass through to it.
 */
export const temporalEnv = z
  .looseObject({
    TEMPORAL_ADDRESS: z.string().trim().min(1).optional(),
    TEMPORAL_NAMESPACE: z.string().trim().min(1).optional(),
    TEMPORAL_UI_URL: z.string().trim().url('TEMPORAL_UI_URL must be a URL').optional(),
    TEMPORAL_TASK_QUEUE: z.string().trim().min(1).default(DEFAULT_TASK_QUEUE),
  })
  .transform((e) => {
    // Temporal's own config loader: a profile from temporal.toml (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE)
    // overridden by TEMPORAL_ADDRESS / _NAMESPACE / _API_KEY / _TLS_* — the same rules as the temporal CLI.
    let connect: ReturnType<typeof loadClientConnectConfig>;
    try {
      connect = loadClientConnectConfig({ overrideEnvVars: e as Record<string, string> });
    } catch (err) {
      throw new ConfigError(`Invalid Temporal connection configuration: ${(err as Error).message}`);
    }
    const co = connect.connectionOptions;
    const address = co.address ?? e.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
    const connection: TemporalConnection = {
      address,
      ...(co.tls !== undefined && co.tls !== null ? { tls: co.tls } : {}),
      ...(co.apiKey ? { apiKey: co.apiKey as string } : {}),
      ...(co.metadata ? { metadata: co.metadata as Record<string, string> } : {}),
    };
    return {
      temporal: {
        address,
        namespace: connect.namespace ?? e.TEMPORAL_NAMESPACE ?? 'default',
        uiUrl: (e.TEMPORAL_UI_URL ?? guessUiUrl(address)).replace(/\/$/, ''),
        taskQueue: e.TEMPORAL_TASK_QUEUE,
        /** TLS, API key and gRPC metadata from @temporalio/envconfig (profile file and TEMPORAL_* variables). */
        connection,
      },
    };
  });
export type TemporalConfig = z.infer<typeof temporalEnv>;

/** The dev server serves its Web UI on gRPC port + 1000 (7233 → 8233). */
function guessUiUrl(address: string): string {
  const m = /^(.*):(\d+)$/.exec(address);
  if (!m) return 'http://127.0.0.1:8233';
  const host = m[1] === '0.0.0.0' ? '127.0.0.1' : m[1];
  return `http://${host}:${Number(m[2]) + 1000}`;
}

/** The Web UI page of one workflow run. */
export function workflowUiLink(config: TemporalConfig, workflowId: string): string {
  return `${config.temporal.uiUrl}/namespaces/${encodeURIComponent(config.temporal.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
}
