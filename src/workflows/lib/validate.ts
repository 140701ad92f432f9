/** Input validation inside workflows: an invalid input fails the run at once, never retried. */
import { ApplicationFailure } from '@temporalio/workflow';
import { InvalidInputError } from '../../core/tasks';

/** Runs a validator; an InvalidInputError becomes a non-retryable `InvalidInput` failure with its message. */
export function validateOrFail<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InvalidInputError) throw ApplicationFailure.nonRetryable(err.message, 'InvalidInput');
    throw err;
  }
}
