/**
 * Placeholders of DAG and pipeline prompts: `{{id}}` quotes the output of node (or task) `id`.
 * Pure: bundled into workflow code.
 */

// Spaces inside the braces are tolerated so `{{ summary }}` is not silently left in a prompt.
const PLACEHOLDER = /\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}/g;

/** Ids named by `{{id}}` placeholders in a template, in order of first use, each once. */
export function placeholdersIn(template: string): string[] {
  return [...new Set(Array.from(template.matchAll(PLACEHOLDER), (m) => m[1]))];
}

/** Replaces `{{id}}` with outputs[id]; placeholders without an output stay as written. */
export function fillPlaceholders(template: string, outputs: Record<string, string>): string {
  // hasOwn, not `in`: an id like "constructor" must not pick up Object.prototype members.
  // A replacer function keeps `$&` and friends in outputs literal.
  return template.replace(PLACEHOLDER, (whole, id: string) => (Object.prototype.hasOwnProperty.call(outputs, id) ? outputs[id] : whole));
}
