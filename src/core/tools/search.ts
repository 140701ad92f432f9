/**
 * The `search_documents` agent tool: its definition (sent to the model as it is) and the schema
 * of its input. Pure: bundled into workflow code. The search itself is an activity
 * (src/activities/document-search.ts).
 */
import { z } from 'zod';
import type { AgentToolSpec } from '../agent';
import { formatIssues, nonEmptyString, wholeNumber } from '../schema';

/** Longest query the tool takes, in characters. */
export const SEARCH_QUERY_MAX_CHARS = 500;
/** Most hits one search returns. */
export const SEARCH_MAX_LIMIT = 20;
/** Hits returned when the input sets no limit. */
export const SEARCH_DEFAULT_LIMIT = 5;

/** Full-text ranked search over the documents folder (DOCUMENTS_DIR). */
export const SEARCH_DOCUMENTS_TOOL: AgentToolSpec = {
  name: 'search_documents',
  description:
    'Full-text search over the research documents folder (company overviews, products, pricing, news, people). ' +
    'Returns the best-matching passages, best first, each with its document name, a relevance score and a short excerpt. ' +
    'Use key words (names, products, topics), not whole sentences; read a whole document with read_document and its name.',
  input_schema: {
    type: 'object',
    properties: {
      query: { type: 'string', minLength: 1, maxLength: SEARCH_QUERY_MAX_CHARS, description: 'Key words to search for, e.g. "Acme pricing".' },
      limit: { type: 'integer', minimum: 1, maximum: SEARCH_MAX_LIMIT, description: `Most passages to return (default ${SEARCH_DEFAULT_LIMIT}).` },
    },
    required: ['query'],
  },
};

/** The input of `search_documents` (unknown keys are dropped; limit defaults to SEARCH_DEFAULT_LIMIT). */
export const searchDocumentsInput = z.object({
  query: nonEmptyString(SEARCH_QUERY_MAX_CHARS),
  limit: wholeNumber(1, SEARCH_MAX_LIMIT).default(SEARCH_DEFAULT_LIMIT),
});
export type SearchDocumentsInput = z.output<typeof searchDocumentsInput>;

/** Parses a model's input: the value, or a message naming every problem (`query: must not be empty`). */
export function parseSearchDocumentsInput(input: unknown): { ok: true; value: SearchDocumentsInput } | { ok: false; message: string } {
  const r = searchDocumentsInput.safeParse(input ?? {});
  return r.success ? { ok: true, value: r.data } : { ok: false, message: formatIssues(r.error) };
}
