import { describe, expect, it } from 'vitest';
import type { LoadBalancerIngress } from '../../../../src/primary/k8s/kubernetes-source.js';
import { parseAddresses, planStatus, sameLoadBalancer } from '../../../../src/primary/k8s/status.js';

const US = [{ ip: '127.0.0.9' }];
const OTHER = { ip: '10.9.9.9' };

describe('parseAddresses', () => {
  it('makes IPs ip entries and the rest hostname entries', () => {
    expect(parseAddresses(['127.0.0.9', '::1', 'lb.example.com'])).toEqual([{ ip: '127.0.0.9' }, { ip: '::1' }, { hostname: 'lb.example.com' }]);
  });
});

describe('sameLoadBalancer', () => {
  it('compares as sets', () => {
    expect(sameLoadBalancer([{ ip: 'a' }, { hostname: 'b' }], [{ hostname: 'b' }, { ip: 'a' }])).toBe(true);
    expect(sameLoadBalancer([{ ip: 'a' }], [{ ip: 'a' }, { ip: 'b' }])).toBe(false);
    expect(sameLoadBalancer([], [])).toBe(true);
  });
});

describe('planStatus', () => {
  const current = (m: Record<string, readonly LoadBalancerIngress[]>) => (k: string) => m[k];

  it.each<{ name: string; ours: string[]; seen: Record<string, readonly LoadBalancerIngress[]>; want: { key: string; ingress: readonly LoadBalancerIngress[] }[] }>([
    { name: 'writes ours when it differs', ours: ['a/x'], seen: { 'a/x': [] }, want: [{ key: 'a/x', ingress: US }] },
    { name: 'skips ours when equal', ours: ['a/x'], seen: { 'a/x': US }, want: [] },
    { name: 'never touches another class without our address', ours: [], seen: { 'a/y': [OTHER] }, want: [] },
    { name: 'removes only our address from an Ingress that left', ours: [], seen: { 'a/y': [OTHER, ...US] }, want: [{ key: 'a/y', ingress: [OTHER] }] },
    { name: 'replaces a foreign address on ours', ours: ['a/x'], seen: { 'a/x': [OTHER] }, want: [{ key: 'a/x', ingress: US }] },
    { name: 'skips an Ingress not seen (deleted meanwhile)', ours: ['a/gone'], seen: {}, want: [] },
  ])('$name', ({ ours, seen, want }) => {
    expect(planStatus(ours, Object.keys(seen), current(seen), US)).toEqual(want);
  });

  it('clearing is planning with no Ingress of ours', () => {
    expect(planStatus([], ['a/x', 'a/y'], current({ 'a/x': US, 'a/y': [OTHER] }), US)).toEqual([{ key: 'a/x', ingress: [] }]);
  });
});
