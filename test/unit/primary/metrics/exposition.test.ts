import { describe, expect, it } from 'vitest';
import { ExpositionWriter, escapeLabelValue, formatValue } from '../../../../src/primary/metrics/exposition.js';

describe('ExpositionWriter', () => {
  it('writes HELP, TYPE and samples with escaped labels', () => {
    const w = new ExpositionWriter();
    w.family('x_total', 'counter', 'Things.\nCounted.').sample('x_total', [['a', 'q"u\\o\nte']], 3).sample('x_total', [], 1.5);
    expect(w.text()).toBe('# HELP x_total Things.\\nCounted.\n# TYPE x_total counter\nx_total{a="q\\"u\\\\o\\nte"} 3\nx_total 1.5\n');
  });

  it('writes cumulative histogram buckets with +Inf, sum and count', () => {
    const w = new ExpositionWriter();
    w.histogram('d_seconds', [['r', 'x']], [0.1, 1], [2, 3, 1], 4.5);
    expect(w.text().split('\n')).toEqual([
      'd_seconds_bucket{r="x",le="0.1"} 2',
      'd_seconds_bucket{r="x",le="1"} 5',
      'd_seconds_bucket{r="x",le="+Inf"} 6',
      'd_seconds_sum{r="x"} 4.5',
      'd_seconds_count{r="x"} 6',
      '',
    ]);
  });

  it('renders nothing when nothing was written', () => {
    expect(new ExpositionWriter().text()).toBe('');
  });

  it.each([
    [Infinity, '+Inf'],
    [-Infinity, '-Inf'],
    [Number.NaN, 'NaN'],
    [42, '42'],
    [0.25, '0.25'],
  ])('formats %s as %s', (v, want) => {
    expect(formatValue(v)).toBe(want);
  });

  it('escapes only backslash, quote and newline', () => {
    expect(escapeLabelValue('a/b c{}=,')).toBe('a/b c{}=,');
  });
});
