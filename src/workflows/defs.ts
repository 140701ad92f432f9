/** Query, signal and update definitions shared by workflows and clients. */
import { defineQuery } from '@temporalio/workflow';
import type { Progress } from '../core/progress';

/** Live progress of any of this project's workflows. */
export const progressQuery = defineQuery<Progress>('progress');
