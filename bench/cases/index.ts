/**
 * The bench cases, in the order they run (and print). Each module holds one case; what they share
 * is in ./common.ts (the case interface, latencies, run summaries) and ./points.ts (the N/k/L
 * points run beside the baselines).
 */
import { baselines } from './baselines';
import { ceiling } from './ceiling';
import { type CaseDef } from './common';
import { dag } from './dag';
import { fleet } from './fleet';
import { flow } from './flow';
import { hedging } from './hedging';
import { limits } from './limits';
import { memory } from './memory';
import { overhead } from './overhead';
import { profile } from './profile';
import { scale } from './scale';
import { seed } from './seed';
import { startup } from './startup';
import { tuning } from './tuning';

export type { CaseDef, CaseResult, Runner, Shared, Target } from './common';
export { LOCAL_ACTIVITIES, SINGLE_QUEUE } from './common';

export const CASES: CaseDef[] = [seed, overhead, ceiling, memory, dag, baselines, limits, scale, tuning, profile, hedging, flow, fleet, startup];
