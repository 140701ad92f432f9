/** Local folders of a process: where run artifacts go, and the only folders tools may read. */
import path from 'node:path';
import { z } from 'zod';
import { dirFrom, listFrom } from './env';

export const filesEnv = z
  .object({
    RUNS_DIR: dirFrom('runs'),
    DOCUMENT_ROOTS: listFrom('examples/docs').pipe(z.array(z.string()).min(1, 'DOCUMENT_ROOTS must name at least one folder')),
    DOCUMENTS_DIR: dirFrom('examples/corpus'),
  })
  .transform((e) => ({
    /** Where run artifacts (report.md, timeline.html) go. */
    runsDir: e.RUNS_DIR,
    /** The only folders tool activities may read files from (absolute). */
    documentRoots: e.DOCUMENT_ROOTS.map((r) => path.resolve(r)),
    /**
     * The folder `search_documents` indexes (absolute; its .md/.txt files, recursively). Agents'
     * `read_document` may read it too, as one more root besides documentRoots.
     */
    documentsDir: e.DOCUMENTS_DIR,
  }));
export type FilesConfig = z.infer<typeof filesEnv>;
