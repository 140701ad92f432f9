/** LOG_*: the worker's log level and format, and whether prompts may appear in logs. */
import { z } from 'zod';
import { flagFrom } from './env';

export const loggingEnv = z
  .object({
    LOG_FORMAT: z.enum(['json', 'pretty'], { error: 'LOG_FORMAT must be json or pretty' }).default('json'),
    LOG_PROMPTS: flagFrom('0'),
    LOG_LEVEL: z.enum(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  })
  .transform((e) => ({
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    /** Include prompt previews in debug logs (off: prompts may hold user data). */
    logPrompts: e.LOG_PROMPTS,
  }));
export type LoggingConfig = z.infer<typeof loggingEnv>;
