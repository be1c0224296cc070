// A unified diff (diff -u format) of two small texts: Myers' O(ND) shortest edit script over
// lines, then hunks with `context` lines around each change. Callers bound the input size.

type Op = { kind: ' ' | '-' | '+'; line: string; a: number; b: number };

/** Marks a last line without a newline, so `x` and `x\n` differ as diff sees them. */
const NO_EOL = '\0';

function splitLines(text: string): string[] {
  if (text === '') return [];
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  else lines[lines.length - 1] += NO_EOL;
  return lines;
}

/** Shortest edit script between line arrays (Myers 1986), as a list of keep/delete/insert ops. */
function editScript(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const offset = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  let found = false;
  for (let d = 0; d <= max && !found; d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x =
        k === -d || (k !== d && v[offset + k - 1] < v[offset + k + 1])
          ? v[offset + k + 1]
          : v[offset + k - 1] + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found = true;
        break;
      }
    }
  }
  // Walk the trace backwards from (n, m) to (0, 0).
  const ops: Op[] = [];
  let x = n;
  let y = m;
  for (let d = trace.length - 1; d >= 0; d--) {
    const vd = trace[d];
    const k = x - y;
    const prevK = k === -d || (k !== d && vd[offset + k - 1] < vd[offset + k + 1]) ? k + 1 : k - 1;
    const prevX = vd[offset + prevK];
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      ops.push({ kind: ' ', line: a[x], a: x, b: y });
    }
    if (d === 0) break;
    if (x === prevX) ops.push({ kind: '+', line: b[prevY], a: x, b: prevY });
    else ops.push({ kind: '-', line: a[prevX], a: prevX, b: y });
    x = prevX;
    y = prevY;
  }
  return ops.reverse();
}

const range = (start: number, count: number) =>
  count === 1 ? `${start}` : `${count === 0 ? start : start},${count}`;

export interface UnifiedDiffOptions {
  /** Unchanged lines shown around each change (default 3, as diff -u). */
  context?: number;
}

/**
 * `diff -u`-style text of `before` → `after`, or '' when the texts have the same lines.
 * `fromLabel`/`toLabel` go on the `---`/`+++` header lines.
 */
export function unifiedDiff(
  before: string,
  after: string,
  fromLabel: string,
  toLabel: string,
  options: UnifiedDiffOptions = {},
): string {
  const context = options.context ?? 3;
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = editScript(a, b);
  if (ops.every((o) => o.kind === ' ')) return '';
  const out = [`--- ${fromLabel}`, `+++ ${toLabel}`];
  let i = 0;
  while (i < ops.length) {
    while (i < ops.length && ops[i].kind === ' ') i++;
    if (i >= ops.length) break;
    // A hunk spans changes that are at most 2*context unchanged lines apart.
    const start = Math.max(0, i - context);
    let end = i;
    let lastChange = i;
    while (end < ops.length) {
      if (ops[end].kind !== ' ') lastChange = end;
      else if (end - lastChange > 2 * context) break;
      end++;
    }
    end = Math.min(ops.length, lastChange + context + 1);
    const hunk = ops.slice(start, end);
    const aCount = hunk.filter((o) => o.kind !== '+').length;
    const bCount = hunk.filter((o) => o.kind !== '-').length;
    // diff -u numbers from 1; an empty side is shown as the line before it (0 for an empty file).
    const aStart = aCount === 0 ? hunk[0].a : hunk[0].a + 1;
    const bStart = bCount === 0 ? hunk[0].b : hunk[0].b + 1;
    out.push(`@@ -${range(aStart, aCount)} +${range(bStart, bCount)} @@`);
    for (const o of hunk) {
      if (o.line.endsWith(NO_EOL)) out.push(o.kind + o.line.slice(0, -1), '\\ No newline at end of file');
      else out.push(o.kind + o.line);
    }
    i = end;
  }
  return out.join('\n') + '\n';
}
