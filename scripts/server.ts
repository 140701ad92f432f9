/**
 * `npm run server`: the real Temporal dev server with its Web UI and a SQLite file under .run/,
 * so runs survive a restart and stay inspectable. Extra arguments pass through:
 *   npm run server -- --port 7300 --ui-port 8300
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DEV_SERVER_DYNAMIC_CONFIG, ROOT, temporalBinary } from './dev-server';

function main(): void {
  const extra = process.argv.slice(2);
  const runDir = path.join(ROOT, '.run');
  fs.mkdirSync(runDir, { recursive: true });
  const has = (flag: string) => extra.some((a) => a === flag || a.startsWith(`${flag}=`));
  const args = ['server', 'start-dev'];
  if (!has('--db-filename') && !has('-f')) args.push('--db-filename', path.join(runDir, 'temporal.db'));
  if (!has('--ip')) args.push('--ip', '127.0.0.1');
  args.push(...DEV_SERVER_DYNAMIC_CONFIG);
  args.push(...extra);
  const bin = temporalBinary();
  console.log(`starting: ${bin} ${args.join(' ')}`);
  const child = spawn(bin, args, { stdio: 'inherit' });
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 0 : 1)));
}

main();
