/**
 * The worker's side of custom-headers / add-headers / proxy-set-headers (issue 15 item 4):
 * joining the route's fields after a policy's (the route's win, the same list for the same two
 * lists), and proxy-set-headers on an upstream head (variables evaluated, an empty value sends
 * nothing and removes the client's field, as nginx's proxy_set_header).
 */
import { describe, expect, it } from 'vitest';
import { joinFields, overrides, withProxySetFields } from '../../../../src/worker/proxy/custom-headers.js';

const req = { target: '/a?b=1', path: '/a', host: 'h.test', query: 'b=1', scheme: 'http', clientAddress: '10.0.0.1', names: ['user-agent', 'x-forged'], values: ['t/1', 'client'] };

describe('joinFields', () => {
  it('puts the route fields last, drops the first list\'s of the same names, and returns the same list each time', () => {
    const cors = ['Access-Control-Allow-Origin', '*', 'X-Team', 'cors'];
    const route = ['X-Team', 'blue'];
    const joined = joinFields(cors, route);
    expect(joined).toEqual(['Access-Control-Allow-Origin', '*', 'X-Team', 'blue']);
    expect(joinFields(cors, route)).toBe(joined);
    expect(joinFields(null, route)).toBe(route);
    expect(overrides(route, 'x-team')).toBe(true);
    expect(overrides(null, 'x-team')).toBe(false);
  });
});

describe('withProxySetFields', () => {
  it('sets evaluated fields in place of the client\'s, and sends no field whose value is empty', () => {
    const head = ['host', 'h.test', 'x-forged', 'client', 'x-via', 'client'];
    const out = withProxySetFields(head, [{ name: 'x-via', parts: ['flusso'] }, { name: 'x-client', parts: ['$remote_addr', ' ', '$http_user_agent'] }, { name: 'x-forged', parts: ['$http_x_absent'] }], req);
    expect(out).toEqual(['host', 'h.test', 'x-via', 'flusso', 'x-client', '10.0.0.1 t/1']);
  });
});
