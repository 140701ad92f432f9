/**
 * DAG runs: the spec and its validation (spec.ts), graph algorithms (graph.ts) and `{{id}}`
 * placeholders (template.ts). Pure: bundled into workflow code.
 */
export { NODE_ID_PATTERN } from '../schema';
export { dagNodeSchema, dagSpecSchema, toolCallSchema, validateDag, type DagNode, type DagParams, type DagSpec, type ToolCall } from './spec';
export {
  criticalPath,
  dependents,
  idealMakespan,
  levels,
  priorityRanks,
  remainingPathLengths,
  topologicalOrder,
  transitiveDependents,
  type GraphNode,
  type NodeWeight,
} from './graph';
export { fillPlaceholders, placeholdersIn } from './template';
