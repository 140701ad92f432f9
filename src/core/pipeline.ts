/**
 * Pipeline specs: stages in order, tasks within a stage in parallel; a task may quote outputs of
 * the previous stage as `{{taskId}}` or all of them as `{{previous}}`. Pure.
 */
import { z } from 'zod';
import { agentOptionsSchema } from './agent-options';
import { placeholdersIn } from './dag';
import { formatIssues, maxConcurrentSchema, nodeIdSchema, nonEmptyList, nonEmptyString, plainString } from './schema';
import { InvalidInputError, callOptionsSchema, duplicates } from './tasks';

/** Placeholder for every output of the previous stage. */
export const PREVIOUS = 'previous';

/** Input of the `pipeline` workflow. */
export const pipelineSpecSchema = callOptionsSchema.extend({
  name: nonEmptyString().optional(),
  stages: nonEmptyList(
    z.object({
      name: nonEmptyString(),
      tasks: nonEmptyList(
        z.object({
          id: nodeIdSchema,
          name: nonEmptyString().optional(),
          prompt: nonEmptyString(),
          system: plainString().optional(),
          model: nonEmptyString().optional(),
          maxTokens: callOptionsSchema.shape.maxTokens,
          /** Run the task as an agent with these tools. */
          agent: agentOptionsSchema.optional(),
        }),
        'tasks',
      ),
    }),
    'stages',
  ),
  maxConcurrent: maxConcurrentSchema.optional(),
  /** Stop after a stage in which some task failed (later stages are reported as skipped). */
  stopOnStageFailure: z.boolean().optional(),
});
export type PipelineSpec = z.infer<typeof pipelineSpecSchema>;
/** What a caller passes to `pipeline` (validated inside the workflow). */
export type PipelineParams = z.input<typeof pipelineSpecSchema>;

/** Validates a pipeline spec; throws InvalidInputError naming every problem. */
export function validatePipeline(input: unknown): PipelineSpec {
  const r = pipelineSpecSchema.safeParse(input);
  if (!r.success) throw new InvalidInputError(`Invalid pipeline spec: ${formatIssues(r.error)}`);
  const spec = r.data;
  const problems: string[] = [];
  const dupStages = duplicates(spec.stages.map((s) => s.name));
  if (dupStages.length) problems.push(`duplicate stage names: ${dupStages.join(', ')}`);
  const dupIds = duplicates(spec.stages.flatMap((s) => s.tasks.map((t) => t.id)));
  if (dupIds.length) problems.push(`duplicate task ids: ${dupIds.join(', ')}`);
  spec.stages.forEach((stage, i) => {
    const prev = new Set(i > 0 ? spec.stages[i - 1].tasks.map((t) => t.id) : []);
    for (const t of stage.tasks) {
      for (const p of new Set([...placeholdersIn(t.prompt), ...placeholdersIn(t.system ?? '')])) {
        if (i === 0) problems.push(`task "${t.id}" in the first stage uses {{${p}}}, but there is no previous stage`);
        else if (p !== PREVIOUS && !prev.has(p)) problems.push(`task "${t.id}" uses {{${p}}}, which is not a task of the previous stage "${spec.stages[i - 1].name}"`);
      }
    }
  });
  if (problems.length) throw new InvalidInputError(`Invalid pipeline spec: ${problems.join('; ')}`);
  return spec;
}
