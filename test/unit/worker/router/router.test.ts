import { HostTableRouter, createRouter } from '../../../../src/worker/router/host-table.js';
import { linearPathMatcher, prefixMapPathMatcher } from '../../../../src/worker/router/path-matcher.js';
import { runRouterContract } from './router.contract.js';

runRouterContract('createRouter (host-table, path matcher chosen by size)', createRouter);
runRouterContract('host-table + linear path matcher', (t) => new HostTableRouter(t, { pathMatcher: linearPathMatcher, name: 'host-table/linear' }));
runRouterContract('host-table + prefix-map path matcher', (t) => new HostTableRouter(t, { pathMatcher: prefixMapPathMatcher, name: 'host-table/prefix-map' }));
