import { describe, expect, it } from 'vitest';
import { parseErrorCodes } from '../../../../src/primary/compile/custom-http-errors-annotations.js';
import { explainRoute } from '../../../../src/primary/explain.js';
import type { Route } from '../../../../src/shared/snapshot.js';

describe('custom-http-errors values', () => {
  it('reads comma-separated codes from 300 to 599, sorted, without repeats', () => {
    expect(parseErrorCodes('503, 404,503')).toEqual([404, 503]);
    expect(parseErrorCodes('300,599')).toEqual([300, 599]);
  });

  it('says what is wrong with anything else', () => {
    expect(parseErrorCodes('503,700')).toBe('700 is outside 300–599');
    expect(parseErrorCodes('200')).toBe('200 is outside 300–599');
    expect(parseErrorCodes('50x')).toBe('"50x" is not a status code');
    expect(parseErrorCodes('')).toBe('"" is not a status code');
    expect(parseErrorCodes('503,')).toBe('"" is not a status code');
  });

  it('the explainer says which answers are replaced and by whom', () => {
    const route: Route = { match: 'Prefix', path: '/', backend: 'ns/app:http', source: 'ns/shop', errorPages: { codes: [404, 503], backend: 'ns/pages:8080', namespace: 'ns', ingress: 'shop', service: 'app', port: 'http' } };
    const said = explainRoute({ hosts: [{ host: 'shop.test', routes: [route] }], defaultBackend: null, backends: [] }, 'shop.test', '/').annotations;
    expect(said).toContain('custom-http-errors: an upstream answer 404, 503 is replaced by what ns/pages:8080 answers to the same method on / with X-Code and the request\'s X-* fields (its status is the client\'s)');
  });
});
