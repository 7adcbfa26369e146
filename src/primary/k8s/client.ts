/**
 * Kubernetes credentials: an explicit kubeconfig (`--kubeconfig`, else `$KUBECONFIG`, both
 * resolved by config.ts), else the in-cluster service account. Never `loadFromDefault()`: it
 * silently falls back to `~/.kube/config` or `localhost:8080`, which a test or a misconfigured
 * pod must not pick up.
 */
import * as k8s from '@kubernetes/client-node';
import { IngressError } from '../../shared/errors.js';

/** KubeClientOptions says where the credentials come from. */
export interface KubeClientOptions {
  /** A kubeconfig file; the first of a `:`-separated KUBECONFIG list is used. */
  readonly kubeconfig?: string;
  /** Running in a pod (KUBERNETES_SERVICE_HOST set): use the service account. */
  readonly inCluster: boolean;
}

/**
 * loadKubeConfig builds the client configuration. In cluster, client-node re-reads the
 * service-account token file when it is older than 60 s, so rotating bound tokens keep working.
 * It throws ING_ERR_K8S_CREDENTIALS when there is nothing to load or the file is unusable.
 */
export function loadKubeConfig(opts: KubeClientOptions): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  const file = opts.kubeconfig?.split(':').find((f) => f !== '');
  try {
    if (file !== undefined) kc.loadFromFile(file);
    else if (opts.inCluster) kc.loadFromCluster();
    else throw new Error('no --kubeconfig, no KUBECONFIG, and not running in a pod (KUBERNETES_SERVICE_HOST unset)');
  } catch (cause) {
    throw new IngressError('ING_ERR_K8S_CREDENTIALS', `cannot load Kubernetes credentials${file === undefined ? '' : ` from ${file}`}: ${(cause as Error).message}`, { cause });
  }
  if (kc.getCurrentCluster() === null)
    throw new IngressError('ING_ERR_K8S_CREDENTIALS', `the kubeconfig${file === undefined ? '' : ` ${file}`} has no current cluster`);
  return kc;
}
