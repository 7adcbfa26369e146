/**
 * The request rules of the fake API server (fake-apiserver.ts) that need no server: label and
 * field selectors (equality, set-based and existence terms) and RFC 7386 / RFC 6902 patches.
 */

/** SelectableObject is what a selector reads: metadata labels and any dotted field. */
export type SelectableObject = Record<string, unknown> & { metadata: Record<string, unknown> };

/** selectorOf compiles labelSelector and fieldSelector into one predicate; undefined when unsupported. */
export function selectorOf(q: URLSearchParams): ((o: SelectableObject) => boolean) | undefined {
  const checks: ((o: SelectableObject) => boolean)[] = [];
  for (const term of splitTerms(q.get('labelSelector') ?? '')) {
    const labels = (o: SelectableObject): Record<string, string> => (o.metadata.labels ?? {}) as Record<string, string>;
    let m: RegExpExecArray | null;
    if ((m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term))) {
      const [, k = '', op, v] = m;
      checks.push(op === '!=' ? (o) => labels(o)[k] !== v : (o) => labels(o)[k] === v);
    } else if ((m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term))) {
      const [, k = '', op, vs = ''] = m;
      const set = new Set(vs.split(',').map((s) => s.trim()));
      checks.push(op === 'in' ? (o) => set.has(labels(o)[k] ?? '\0') : (o) => !set.has(labels(o)[k] ?? '\0'));
    } else if ((m = /^!(\S+)$/.exec(term))) {
      const k = m[1] ?? '';
      checks.push((o) => !(k in labels(o)));
    } else if (/^[^!=\s(),]+$/.test(term)) {
      checks.push((o) => term in labels(o));
    } else return undefined;
  }
  for (const term of splitTerms(q.get('fieldSelector') ?? '')) {
    const m = /^([a-zA-Z.]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) return undefined;
    const [, field = '', op, v] = m;
    const read = (o: SelectableObject): unknown => field.split('.').reduce<unknown>((x, k) => (x as Record<string, unknown> | undefined)?.[k], o);
    checks.push(op === '!=' ? (o) => read(o) !== v : (o) => read(o) === v);
  }
  return (o) => checks.every((c) => c(o));
}

/** splitTerms splits a selector on commas outside parentheses. */
function splitTerms(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const c of selector) {
    if (c === '(') depth++;
    if (c === ')') depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out.filter((t) => t !== '');
}

/** mergePatch applies an RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** jsonPatch applies RFC 6902 add, replace, remove and test operations. */
export function jsonPatch<T extends SelectableObject>(target: T, ops: unknown): T {
  if (!Array.isArray(ops)) throw new Error('a JSON patch must be a list of operations');
  const doc = structuredClone(target) as Record<string, unknown>;
  for (const raw of ops) {
    const op = raw as { op?: string; path?: string; value?: unknown };
    if (typeof op.path !== 'string' || !op.path.startsWith('/')) throw new Error('a JSON patch path must start with /');
    const parts = op.path.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop() as string;
    let parent: unknown = doc;
    for (const p of parts) {
      parent = (parent as Record<string, unknown>)[p];
      if (typeof parent !== 'object' || parent === null) throw new Error(`path ${op.path} does not exist`);
    }
    const container = parent as Record<string, unknown> | unknown[];
    if (op.op === 'test') {
      if (JSON.stringify((container as Record<string, unknown>)[last]) !== JSON.stringify(op.value)) throw new Error(`test failed at ${op.path}`);
    } else if (op.op === 'remove') {
      if (Array.isArray(container)) container.splice(Number(last), 1);
      else delete container[last];
    } else if (op.op === 'add' || op.op === 'replace') {
      if (op.op === 'replace' && !(last in container)) throw new Error(`path ${op.path} does not exist`);
      if (Array.isArray(container)) {
        if (last === '-') container.push(op.value);
        else if (op.op === 'add') container.splice(Number(last), 0, op.value);
        else container[Number(last)] = op.value;
      } else container[last] = op.value;
    } else throw new Error(`unsupported JSON patch op ${String(op.op)}`);
  }
  return doc as T;
}
