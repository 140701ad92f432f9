/** Installs a quiet Temporal runtime once per test file: tests provoke failures on purpose. */
import { DefaultLogger, Runtime, makeTelemetryFilterString } from '@temporalio/worker';

let installed = false;

/** Logs only errors from the SDK and its native core. */
export function quietRuntime(): void {
  if (installed) return;
  installed = true;
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } } });
}
