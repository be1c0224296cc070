// Building blocks of the terminal renderers: colour that switches itself off when the output is
// not a terminal (or NO_COLOR is set), aligned key/value rows and columns, sizes.
import { stripVTControlCharacters, styleText } from 'node:util';

type Style = Parameters<typeof styleText>[0];

export interface RenderOptions {
  /** Every row and list instead of the top entries. */
  full?: boolean;
  /** ANSI colour (default: stdout is a terminal and NO_COLOR is unset). */
  color?: boolean;
}

/** Whether stdout wants colour: a terminal, and neither NO_COLOR nor FORCE_COLOR=0 set. */
export function colorWanted(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR === '0') return false;
  return stream.isTTY === true;
}

/** Text styler; a no-op when colour is off so snapshots and pipes get plain text. */
export class Paint {
  constructor(readonly enabled: boolean) {}
  style(style: Style, text: string): string {
    return this.enabled ? styleText(style, text) : text;
  }
  bold = (t: string) => this.style('bold', t);
  dim = (t: string) => this.style('dim', t);
  red = (t: string) => this.style('red', t);
  yellow = (t: string) => this.style('yellow', t);
  green = (t: string) => this.style('green', t);
  /** A severity or outcome word in its colour. */
  level(word: string): string {
    switch (word.toLowerCase()) {
      case 'critical':
      case 'blocker':
      case 'failed':
      case 'timeout':
        return this.style(['bold', 'red'], word);
      case 'high':
        return this.red(word);
      case 'medium':
      case 'warning':
      case 'cancelled':
        return this.yellow(word);
      case 'completed':
      case 'ok':
        return this.green(word);
      default:
        return word;
    }
  }
}

/** Section heading: a blank line, then the title. */
export function heading(p: Paint, title: string): string {
  return `\n${p.bold(title)}`;
}

/** `key  value` rows with the keys aligned; undefined values are left out. */
export function rows(pairs: [string, string | number | undefined | null][], indent = ''): string {
  const kept = pairs.filter((r): r is [string, string | number] => r[1] !== undefined && r[1] !== null);
  const width = Math.max(0, ...kept.map(([k]) => k.length));
  return kept.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`.trimEnd()).join('\n');
}

/** Aligned columns with a header row (the last column is not padded). */
export function columns(headers: string[], body: string[][], indent = ''): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...body.map((r) => visible(r[i] ?? '').length)));
  const line = (r: string[]) =>
    indent +
    r
      .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(Math.max(0, widths[i] - visible(c).length))))
      .join('  ')
      .trimEnd();
  return [line(headers), ...body.map(line)].join('\n');
}

// ANSI sequences take no room on screen.
const visible = (s: string) => stripVTControlCharacters(s);

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** At most `max` items unless full, with "… and N more" for the rest. */
export function top<T>(
  items: readonly T[],
  max: number,
  full: boolean | undefined,
): { shown: T[]; more: string } {
  if (full || items.length <= max) return { shown: [...items], more: '' };
  return { shown: items.slice(0, max), more: `… and ${items.length - max} more (--full shows all)` };
}

export function seconds(s: number | undefined): string {
  if (s === undefined) return '-';
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
