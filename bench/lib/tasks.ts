/** The prompts every runner of a case sends (workflow, in-process and Python baselines alike). */

/** Model name sent with every request (the local server echoes it). */
export const BENCH_MODEL = 'claude-sonnet-4-6';
/** max_tokens of every bench request; replies are shorter (the server's outputTokens). */
export const BENCH_MAX_TOKENS = 1024;

/** Prompt of task i (1-based) of a run; the Python baseline builds the same string. */
export function benchPrompt(i: number, n: number): string {
  return `Bench task ${i} of ${n}: summarise item ${i} in one line.`;
}

/** Tasks of a fanOut input. */
export function fanOutTasks(n: number): { name: string; prompt: string }[] {
  return Array.from({ length: n }, (_, k) => ({ name: `t${k + 1}`, prompt: benchPrompt(k + 1, n) }));
}

/** Tasks of a fanOut input with a case's own prompts: n tasks named t0 … t(n−1) unless `name` says otherwise. */
export function promptTasks(n: number, prompt: (i: number) => string, name: (i: number) => string = (i) => `t${i}`): { name: string; prompt: string }[] {
  return Array.from({ length: n }, (_, i) => ({ name: name(i), prompt: prompt(i) }));
}
