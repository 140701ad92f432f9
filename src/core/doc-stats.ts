/**
 * Statistics over documents: word and sentence counts, vocabulary, top terms, top bigrams.
 * CPU-heavy on large inputs, so the tools activity runs it in a worker thread; it is written
 * self-contained (no imports, no closures) because the thread receives its source text.
 */

/** Statistics of one or more documents. */
export interface DocumentStats {
  documents: { name: string; words: number; sentences: number; characters: number }[];
  totalWords: number;
  vocabulary: number;
  averageSentenceWords: number;
  topTerms: { term: string; count: number }[];
  topBigrams: { bigram: string; count: number }[];
}

/** Computes statistics; pure and deterministic. Ties are broken alphabetically. */
export function computeDocumentStats(docs: { name: string; text: string }[], topN: number): DocumentStats {
  const stop = new Set('the a an and or of to in on for with is are was were be by as at it this that from its their has have had not but'.split(' '));
  const terms = new Map<string, number>();
  const bigrams = new Map<string, number>();
  const perDoc: { name: string; words: number; sentences: number; characters: number }[] = [];
  let totalWords = 0;
  let totalSentences = 0;
  for (const d of docs) {
    const words = d.text.toLowerCase().match(/[a-z0-9][a-z0-9'-]*/g) ?? [];
    const sentences = (d.text.match(/[.!?]+(\s|$)/g) ?? []).length || (words.length ? 1 : 0);
    perDoc.push({ name: d.name, words: words.length, sentences, characters: d.text.length });
    totalWords += words.length;
    totalSentences += sentences;
    let prev = '';
    for (const w of words) {
      if (!stop.has(w)) terms.set(w, (terms.get(w) ?? 0) + 1);
      if (prev) {
        const b = `${prev} ${w}`;
        bigrams.set(b, (bigrams.get(b) ?? 0) + 1);
      }
      prev = w;
    }
  }
  const top = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, topN);
  return {
    documents: perDoc,
    totalWords,
    vocabulary: terms.size,
    averageSentenceWords: totalSentences ? Math.round((totalWords / totalSentences) * 10) / 10 : 0,
    topTerms: top(terms).map(([term, count]) => ({ term, count })),
    topBigrams: top(bigrams).map(([bigram, count]) => ({ bigram, count })),
  };
}

/** Renders statistics as short Markdown an LLM prompt can quote. */
export function documentStatsText(s: DocumentStats): string {
  const lines = [
    `Documents: ${s.documents.map((d) => `${d.name} (${d.words} words)`).join(', ')}`,
    `Total words: ${s.totalWords}; vocabulary: ${s.vocabulary}; average sentence: ${s.averageSentenceWords} words`,
    `Top terms: ${s.topTerms.map((t) => `${t.term} (${t.count})`).join(', ')}`,
    `Top bigrams: ${s.topBigrams.map((t) => `${t.bigram} (${t.count})`).join(', ')}`,
  ];
  return lines.join('\n');
}
