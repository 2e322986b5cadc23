/**
 * The latency distributions as an SVG, written by hand (no plotting dependency): for each row,
 * ack latency (log scale) against the percentile, on the usual "nines" axis where p90, p99, p99.9
 * are evenly spaced, so the tail, which is what a fixed-rate latency test is about, gets the room.
 */

export interface Curve {
  readonly id: string;
  /** [percentile (0 to 100), latency in ms], increasing in percentile. */
  readonly points: readonly (readonly [number, number])[];
  readonly dashed?: boolean;
}

const WIDTH = 960;
const HEIGHT = 540;
const PLOT = { left: 70, right: 700, top: 40, bottom: 480 };
const COLORS = ['#1f77b4', '#d62728', '#ff7f0e', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#393b79', '#637939'];

/** The nines: 0 at p0, 1 at p90, 2 at p99, 3 at p99.9. */
const nines = (percentile: number): number => -Math.log10(Math.max(1e-6, 1 - percentile / 100));

const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function latencySvg(title: string, curves: readonly Curve[]): string {
  const all = curves.flatMap((c) => c.points);
  if (all.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="80"><text x="10" y="40">no latency measured</text></svg>\n`;
  const maxNines = Math.max(1, Math.ceil(Math.max(...all.map(([p]) => nines(p))) * 2) / 2);
  const low = Math.floor(Math.log10(Math.max(1e-3, Math.min(...all.map(([, ms]) => ms)))));
  const high = Math.max(low + 1, Math.ceil(Math.log10(Math.max(...all.map(([, ms]) => ms)))));
  const x = (percentile: number): number => PLOT.left + (nines(percentile) / maxNines) * (PLOT.right - PLOT.left);
  const y = (ms: number): number => PLOT.bottom - ((Math.log10(Math.max(ms, 10 ** low)) - low) / (high - low)) * (PLOT.bottom - PLOT.top);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${PLOT.left}" y="22" font-size="14" font-weight="bold">${escape(title)}</text>`,
  ];
  for (let decade = low; decade <= high; decade++) {
    for (const step of decade < high ? [1, 2, 5] : [1]) {
      const ms = step * 10 ** decade;
      const major = step === 1;
      out.push(`<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${y(ms).toFixed(1)}" y2="${y(ms).toFixed(1)}" stroke="${major ? '#ccc' : '#eee'}"/>`);
      out.push(`<text x="${PLOT.left - 6}" y="${(y(ms) + 4).toFixed(1)}" text-anchor="end" fill="#444">${Number(ms.toPrecision(3))}</text>`);
    }
  }
  const ticks = [0, 50, 90, 99, 99.9, 99.99, 99.999].filter((p) => nines(p) <= maxNines + 1e-9);
  for (const p of ticks) {
    out.push(`<line x1="${x(p).toFixed(1)}" x2="${x(p).toFixed(1)}" y1="${PLOT.top}" y2="${PLOT.bottom}" stroke="#ddd"/>`);
    out.push(`<text x="${x(p).toFixed(1)}" y="${PLOT.bottom + 16}" text-anchor="middle" fill="#444">p${p}</text>`);
  }
  out.push(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.right - PLOT.left}" height="${PLOT.bottom - PLOT.top}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 38}" text-anchor="middle">percentile of publishes</text>`);
  out.push(`<text transform="translate(18 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">publish-to-ack latency (ms, log scale)</text>`);
  curves.forEach((curve, i) => {
    const color = COLORS[i % COLORS.length]!;
    const points = curve.points.map(([p, ms]) => `${x(p).toFixed(1)},${y(ms).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${points}" fill="none" stroke="${color}" stroke-width="2"${curve.dashed === true ? ' stroke-dasharray="6 3"' : ''}/>`);
    const legendY = PLOT.top + 8 + i * 20;
    out.push(`<line x1="${PLOT.right + 16}" x2="${PLOT.right + 40}" y1="${legendY}" y2="${legendY}" stroke="${color}" stroke-width="2"${curve.dashed === true ? ' stroke-dasharray="6 3"' : ''}/>`);
    out.push(`<text x="${PLOT.right + 46}" y="${legendY + 4}">${escape(curve.id)}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}
