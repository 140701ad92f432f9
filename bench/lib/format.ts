/** Tables and number formatting of the bench output. */
import Table from 'cli-table3';

export type Cell = string | number;

/** A table as printed and as stored in the results JSON. */
export interface TableData {
  title: string;
  head: string[];
  rows: Cell[][];
  notes?: string[];
}

export function renderTable(t: TableData): string {
  const table = new Table({ head: t.head, style: { head: [], border: [] }, wordWrap: true });
  for (const r of t.rows) table.push(r.map((c) => String(c)));
  const notes = (t.notes ?? []).map((n) => `  ${n}`).join('\n');
  return `\n${t.title}\n${table.toString()}${notes ? `\n${notes}` : ''}`;
}

/** 1234 → "1.23 s"; 85 → "85 ms". */
export function ms(v: number | undefined | null): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—';
  return Math.abs(v) >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`;
}

/** 1.234 → "1.23×". */
export function ratio(v: number | undefined | null, digits = 2): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—';
  return `${v.toFixed(digits)}×`;
}

export function pct(v: number | undefined | null): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—';
  return `${(v * 100).toFixed(0)}%`;
}

export function mb(v: number | undefined | null): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—';
  return `${Math.round(v)} MB`;
}

export function num(v: number | undefined | null, digits = 0): string {
  if (v === undefined || v === null || !Number.isFinite(v)) return '—';
  return v.toFixed(digits);
}

/** "✓ met" / "✗ missed" for a target check (undefined: not measured). */
export function verdict(ok: boolean | undefined): string {
  return ok === undefined ? '— not measured' : ok ? '✓ met' : '✗ missed';
}

export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The p-quantile of xs by rank (sorted[floor(p × n)], capped at the largest; p = 1 is the max); NaN for none. */
export function quantile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
