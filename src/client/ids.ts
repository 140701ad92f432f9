/** Workflow ids the client side makes up (never used in workflow code: it draws random numbers). */

/** A short, readable id suffix: date plus a few random base-36 characters (client side only). */
export function workflowId(prefix: string, now: Date = new Date(), random: () => number = Math.random): string {
  const date = now.toISOString().slice(0, 10);
  const hash = Math.floor(random() * 36 ** 6)
    .toString(36)
    .padStart(6, '0');
  return `${prefix}-${date}-${hash}`;
}

/** The type name of a workflow given by reference or by name. */
export function workflowTypeOf(workflow: { name: string } | string): string {
  return typeof workflow === 'string' ? workflow : workflow.name;
}
