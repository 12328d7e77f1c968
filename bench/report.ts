/** Report helpers shared by the benchmark and the evaluation: markdown tables, machine info, progress. */
import { cpus, freemem, release, totalmem } from 'node:os';
import cliProgress from 'cli-progress';

export type Cell = string | number | null | undefined;

/** Formats a number for a table: integers as is, others with `digits` decimals; NaN/null as "–". */
export function fmt(value: Cell, digits = 1): string {
  if (value === null || value === undefined) return '–';
  if (typeof value === 'string') return value;
  if (Number.isNaN(value)) return '–';
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A GitHub-flavoured markdown table; numeric columns are right-aligned. */
export function markdownTable(headers: string[], rows: Cell[][], digits = 1): string {
  const cells = rows.map((row) => row.map((cell) => fmt(cell, digits)));
  const numberLike = (cell: Cell) =>
    typeof cell === 'number' || cell == null || (typeof cell === 'string' && /^[-+]?[\d,]*\.?\d+%?$|^–$/.test(cell));
  const numeric = headers.map((_, i) => rows.length > 0 && rows.every((row) => numberLike(row[i])));
  const widths = headers.map((h, i) => Math.max(h.length, 3, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (values: string[]) =>
    `| ${values.map((v, i) => (numeric[i] ? v.padStart(widths[i] as number) : v.padEnd(widths[i] as number))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (numeric[i] ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`;
  return [line(headers), rule, ...cells.map(line)].join('\n');
}

export function machineInfo(): {
  cpu: string;
  cores: number;
  memoryGb: number;
  freeGb: number;
  node: string;
  os: string;
  date: string;
} {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGb: totalmem() / 2 ** 30,
    freeGb: freemem() / 2 ** 30,
    node: process.version,
    os: `${process.platform} ${release()} ${process.arch}`,
    date: new Date().toISOString(),
  };
}

export function machineTable(): string {
  const m = machineInfo();
  return markdownTable(
    ['machine', ''],
    [
      ['CPU', m.cpu],
      ['cores', String(m.cores)],
      ['memory', `${m.memoryGb.toFixed(1)} GB (${m.freeGb.toFixed(1)} GB free at start)`],
      ['Node', m.node],
      ['OS', m.os],
      ['date', m.date],
    ],
  );
}

export function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** A progress bar on stderr; when stderr is not a terminal it prints a status line every few seconds. */
export function progressBar(label: string, total: number): { increment(by?: number): void; stop(): void } {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label.padEnd(28)} [{bar}] {percentage}% | {value}/{total} | {duration_formatted} | ETA {eta_formatted}`,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 5_000,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(total, 0);
  return {
    increment: (by = 1) => bar.increment(by),
    stop: () => bar.stop(),
  };
}

export const mb = (bytes: number): number => bytes / 2 ** 20;
