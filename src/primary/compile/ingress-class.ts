/**
 * The class processor: decides which Ingresses this controller owns and puts them in age
 * order, the order that settles every later conflict.
 */
import {
  DEFAULT_CLASS_ANNOTATION,
  INGRESS_CLASS_ANNOTATION,
  describeObject,
  keyOf,
  type Ingress,
  type IngressClass,
} from '../model.js';
import { compareText, quote, report, type Processor } from './context.js';

/**
 * selectIngresses keeps our Ingresses, oldest first (creationTimestamp, then
 * `namespace/name`). Ingresses of other controllers are dropped silently; only one that names
 * a missing IngressClass gets a warning, since it is most likely a typo.
 */
export const selectIngresses: Processor = (state) => {
  const classes = new Map<string, IngressClass>();
  for (const cls of state.view.ingressClasses()) classes.set(cls.metadata.name, cls);
  const ownDefault = [...classes.values()].some(
    (cls) =>
      cls.spec?.controller === state.opts.controllerName &&
      cls.metadata.annotations?.[DEFAULT_CLASS_ANNOTATION] === 'true',
  );
  const claimsClassless = ownDefault || state.opts.watchIngressWithoutClass;

  const ours: Ingress[] = [];
  for (const ing of [...state.view.ingresses()].sort(olderFirst)) {
    const className = ing.spec?.ingressClassName;
    if (className !== undefined && className !== '') {
      const cls = classes.get(className);
      if (cls === undefined) {
        report(
          state,
          'ING_ERR_CLASS_NOT_FOUND',
          'warning',
          describeObject(ing),
          `ingressClassName ${quote(className)} names no IngressClass; Flusso does not serve this Ingress`,
        );
      } else if (cls.spec?.controller === state.opts.controllerName) {
        ours.push(ing);
      }
      continue;
    }
    // The legacy annotation only counts when the field is unset: the field wins.
    const annotated = ing.metadata.annotations?.[INGRESS_CLASS_ANNOTATION];
    if (annotated !== undefined && annotated !== '') {
      if (annotated === state.opts.ingressClass) ours.push(ing);
      continue;
    }
    if (claimsClassless) ours.push(ing);
  }
  state.ingresses = ours;
};

/**
 * olderFirst orders Ingresses by creationTimestamp (absent or unparsable sorts last), then by
 * `namespace/name`; the order is total, so any input order gives the same result.
 */
export function olderFirst(a: Ingress, b: Ingress): number {
  const ta = createdAtMs(a);
  const tb = createdAtMs(b);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return compareText(keyOf(a), keyOf(b));
}

function createdAtMs(ing: Ingress): number {
  const stamp = ing.metadata.creationTimestamp;
  if (stamp === undefined) return Number.POSITIVE_INFINITY;
  const ms = Date.parse(stamp);
  return Number.isNaN(ms) ? Number.POSITIVE_INFINITY : ms;
}

