/**
 * A writer for the Prometheus text exposition format (version 0.0.4): HELP and TYPE lines,
 * escaped label values, histogram buckets made cumulative with `le` and `+Inf`.
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 */

/** Labels are label name/value pairs in output order. */
export type Labels = readonly (readonly [string, string])[];

/** CONTENT_TYPE is the media type of the text format. */
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** ExpositionWriter accumulates metric families and renders them as one text document. */
export class ExpositionWriter {
  readonly #lines: string[] = [];

  /** family starts a metric family: one HELP and one TYPE line. */
  family(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): this {
    this.#lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`);
    return this;
  }

  /** sample writes one sample line. */
  sample(name: string, labels: Labels, value: number): this {
    this.#lines.push(`${name}${formatLabels(labels)} ${formatValue(value)}`);
    return this;
  }

  /**
   * histogram writes the `_bucket`, `_sum` and `_count` samples of one series. `counts` are
   * per-bucket (not cumulative) with one extra last entry for +Inf; `bounds` are the upper bounds.
   */
  histogram(name: string, labels: Labels, bounds: readonly number[], counts: ArrayLike<number>, sum: number): this {
    let cumulative = 0;
    for (let i = 0; i < bounds.length; i++) {
      cumulative += counts[i] ?? 0;
      this.#lines.push(`${name}_bucket${formatLabels([...labels, ['le', formatValue(bounds[i] as number)]])} ${formatValue(cumulative)}`);
    }
    cumulative += counts[bounds.length] ?? 0;
    this.#lines.push(`${name}_bucket${formatLabels([...labels, ['le', '+Inf']])} ${formatValue(cumulative)}`);
    this.#lines.push(`${name}_sum${formatLabels(labels)} ${formatValue(sum)}`);
    this.#lines.push(`${name}_count${formatLabels(labels)} ${formatValue(cumulative)}`);
    return this;
  }

  /** text renders everything written so far. */
  text(): string {
    return this.#lines.length === 0 ? '' : `${this.#lines.join('\n')}\n`;
  }
}

/** escapeLabelValue escapes backslash, double quote and newline, as the format requires. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

/** formatValue renders a sample value: integers plainly, +Inf/-Inf/NaN by name. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
