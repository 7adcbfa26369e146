import { describe, expect, it } from 'vitest';
import type { CompileOptions } from '../../../../src/primary/compile/index.js';
import type { KubeObject } from '../../../../src/primary/model.js';
import type { ErrorCode } from '../../../../src/shared/errors.js';
import type { RoutingTable } from '../../../../src/shared/snapshot.js';
import {
  CLASS,
  OPTS,
  backend,
  backendOf,
  codes,
  compileObjects,
  ingress,
  ingressClass,
  path,
  route,
  rule,
} from '../../../helpers/k8s.js';

const LEGACY = 'kubernetes.io/ingress.class';
const web = (key: string, extra: Parameters<typeof ingress>[1] = {}) =>
  ingress(key, { rules: [rule('web.example.com', path('/', backend('web')))], ...extra });

/** tableFor is the whole table when the route of `web` Ingress `winner` (if any) is kept. */
function tableFor(winner: string | undefined): RoutingTable {
  if (winner === undefined) return { hosts: [], defaultBackend: null, backends: [] };
  const id = `${winner.split('/')[0] ?? ''}/web:80`;
  return {
    hosts: [{ host: 'web.example.com', routes: [route('Prefix', '/', id, winner)] }],
    defaultBackend: null,
    backends: [backendOf(id)],
  };
}

interface Case {
  readonly name: string;
  readonly objects: readonly KubeObject[];
  readonly opts?: Partial<CompileOptions>;
  readonly want: {
    readonly ingresses: readonly string[];
    /** The Ingress whose route web.example.com/ is kept, if any. */
    readonly routedBy?: string;
    readonly diagnostics: readonly [ErrorCode, string][];
  };
}

const missingService = (key: string): [ErrorCode, string] => ['ING_ERR_SERVICE_NOT_FOUND', `Ingress ${key}`];

const cases: Case[] = [
  {
    name: 'ingressClassName naming our class',
    objects: [ingressClass(), web('a/one')],
    want: { ingresses: ['a/one'], routedBy: 'a/one', diagnostics: [missingService('a/one')] },
  },
  {
    name: 'ingressClassName naming another controller class is ignored silently',
    objects: [ingressClass('other', { controller: 'example.com/other' }), web('a/one', { className: 'other' })],
    want: { ingresses: [], diagnostics: [] },
  },
  {
    name: 'ingressClassName naming a missing class warns and is not ours',
    objects: [ingressClass(), web('a/one', { className: 'nope' })],
    want: { ingresses: [], diagnostics: [['ING_ERR_CLASS_NOT_FOUND', 'Ingress a/one']] },
  },
  {
    name: 'legacy annotation equal to our class',
    objects: [web('a/one', { className: null, annotations: { [LEGACY]: CLASS } })],
    want: { ingresses: ['a/one'], routedBy: 'a/one', diagnostics: [missingService('a/one')] },
  },
  {
    name: 'legacy annotation naming another class',
    objects: [web('a/one', { className: null, annotations: { [LEGACY]: 'nginx' } })],
    want: { ingresses: [], diagnostics: [] },
  },
  {
    name: 'field wins over annotation (field ours, annotation not)',
    objects: [ingressClass(), web('a/one', { annotations: { [LEGACY]: 'nginx' } })],
    want: { ingresses: ['a/one'], routedBy: 'a/one', diagnostics: [missingService('a/one')] },
  },
  {
    name: 'field wins over annotation (field not ours, annotation ours)',
    objects: [
      ingressClass('other', { controller: 'example.com/other' }),
      web('a/one', { className: 'other', annotations: { [LEGACY]: CLASS } }),
    ],
    want: { ingresses: [], diagnostics: [] },
  },
  {
    name: 'class-less Ingress is not ours without a default class',
    objects: [ingressClass(), web('a/one', { className: null })],
    want: { ingresses: [], diagnostics: [] },
  },
  {
    name: 'class-less Ingress is ours when our class is the default',
    objects: [ingressClass(CLASS, { isDefault: true }), web('a/one', { className: null })],
    want: { ingresses: ['a/one'], routedBy: 'a/one', diagnostics: [missingService('a/one')] },
  },
  {
    name: 'a default class of another controller does not make class-less Ingresses ours',
    objects: [ingressClass('other', { controller: 'example.com/other', isDefault: true }), web('a/one', { className: null })],
    want: { ingresses: [], diagnostics: [] },
  },
  {
    name: 'is-default-class "false" does not count',
    objects: [ingressClass(CLASS, { isDefault: false }), web('a/one', { className: null })],
    want: { ingresses: [], diagnostics: [] },
  },
  {
    name: 'watchIngressWithoutClass claims class-less Ingresses',
    objects: [web('a/one', { className: null })],
    opts: { watchIngressWithoutClass: true },
    want: { ingresses: ['a/one'], routedBy: 'a/one', diagnostics: [missingService('a/one')] },
  },
  {
    name: 'watchIngressWithoutClass does not claim Ingresses of other classes',
    objects: [web('a/one', { className: null, annotations: { [LEGACY]: 'nginx' } })],
    opts: { watchIngressWithoutClass: true },
    want: { ingresses: [], diagnostics: [] },
  },
  {
    name: 'ingresses lists our keys sorted, whatever the age order',
    objects: [
      ingressClass(),
      web('b/two', { created: '2024-01-01T00:00:00Z' }),
      web('a/one', { created: '2024-06-01T00:00:00Z' }),
      web('c/three', { className: 'nope' }),
    ],
    want: {
      ingresses: ['a/one', 'b/two'],
      routedBy: 'b/two',
      diagnostics: [
        ['ING_ERR_CLASS_NOT_FOUND', 'Ingress c/three'],
        ['ING_ERR_INGRESS_CONFLICT', 'Ingress a/one'],
        missingService('b/two'),
      ],
    },
  },
];

describe('compileSnapshot: class filtering', () => {
  it.each(cases)('$name', ({ objects, opts, want }) => {
    const result = compileObjects(objects, { ...OPTS, ...opts });
    expect(result.ingresses).toEqual(want.ingresses);
    expect(codes(result)).toEqual(want.diagnostics);
    expect(result.table).toStrictEqual(tableFor(want.routedBy));
  });
});
