/**
 * What the proxy's uWS apps have in this build beyond the package's type declarations, and the
 * client timeouts every app of the front gets (docs/runtime.md, "Client timeouts").
 */
import type { TemplatedApp } from 'uWebSockets.js';
import type { WorkerConfig } from '../../shared/messages.js';

/** TunableApp is an app with `close()` and the client timeouts (in seconds) of this uWS build. */
export type TunableApp = TemplatedApp & { close(): void; setIdleTimeout(seconds: number): void; setResponseTimeout(seconds: number): void };

/**
 * tuneClientTimeouts applies the client timeouts, in whole seconds (uWS ticks every 4 s). In this
 * uWS build the response timeout is the idle time between requests on a keep-alive connection,
 * and the idle timeout the time a client has to send a request head, over which a body must
 * average 16 KiB/s.
 */
export function tuneClientTimeouts(app: TunableApp, config: Pick<WorkerConfig, 'keepAliveTimeoutMs' | 'clientHeaderTimeoutMs'>): void {
  app.setResponseTimeout(Math.ceil(config.keepAliveTimeoutMs / 1000));
  app.setIdleTimeout(Math.ceil(config.clientHeaderTimeoutMs / 1000));
}
