#!/usr/bin/env bash
# First reading of Flusso vs nginx on loopback (issue #2): a 100-byte body, wrk, the same run,
# interleaved repetitions, the proxy under test alone on CPU 1 while wrk and the backend share
# CPU 0. The full benchmark suite (npm run bench) is issue #5; this script only gives one ratio.
#
#   bench/first-reading.sh            # needs: wrk, nginx (apt-get install -y wrk nginx-light), a build (npm run build)
#   REPS=5 DURATION=10s bench/first-reading.sh
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${REPS:-3}
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-50}
BACKEND_PORT=${BACKEND_PORT:-18180}
NGINX_PORT=${NGINX_PORT:-18181}
FLUSSO_PORT=${FLUSSO_PORT:-18182}
FLUSSO_ADMIN_PORT=${FLUSSO_ADMIN_PORT:-18183}

for tool in wrk nginx taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y wrk nginx-light util-linux" >&2; exit 1; }
done
[ -f dist/primary/main.js ] || { echo "run npm run build first" >&2; exit 1; }

work=$(mktemp -d /tmp/flusso-bench-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

body=$(printf 'x%.0s' $(seq 1 99))
cat > "$work/backend.conf" <<CONF
worker_processes 1; daemon off; pid $work/backend.pid; error_log $work/backend.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000000;
  server { listen 127.0.0.1:$BACKEND_PORT reuseport; location = /small { return 200 "$body\n"; } } }
CONF
# nginx the way ingress-nginx proxies: HTTP/1.1 upstream keepalive, proxy_buffering off.
cat > "$work/proxy.conf" <<CONF
worker_processes 1; daemon off; pid $work/proxy.pid; error_log $work/proxy.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000000;
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 64; keepalive_requests 100000000; }
  server { listen 127.0.0.1:$NGINX_PORT reuseport;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection "";
      proxy_set_header Host \$http_host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; proxy_buffering off; } } }
CONF
mkdir -p "$work/manifests"
cat > "$work/manifests/bench.yaml" <<YAML
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata: { name: flusso }
spec: { controller: flusso.dev/ingress-controller }
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: bench, namespace: default }
spec:
  ingressClassName: flusso
  defaultBackend: { service: { name: backend, port: { number: 80 } } }
---
apiVersion: v1
kind: Service
metadata: { name: backend, namespace: default }
spec: { ports: [ { port: 80, targetPort: $BACKEND_PORT } ] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: backend-1, namespace: default, labels: { kubernetes.io/service-name: backend } }
addressType: IPv4
ports: [ { port: $BACKEND_PORT } ]
endpoints: [ { addresses: [ 127.0.0.1 ] } ]
YAML

taskset -c 0 nginx -c "$work/backend.conf" & pids+=($!)
taskset -c 1 nginx -c "$work/proxy.conf" & pids+=($!)
taskset -c 1 node bin/flusso --source file --manifests "$work/manifests" --workers 1 --http-address 127.0.0.1 \
  --http-port "$FLUSSO_PORT" --admin-port "$FLUSSO_ADMIN_PORT" --log-level warn > "$work/flusso.log" 2>&1 & pids+=($!)
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$FLUSSO_ADMIN_PORT/readyz" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$FLUSSO_PORT/small" >/dev/null || { echo "flusso not serving; log:" >&2; cat "$work/flusso.log" >&2; exit 1; }
curl -sf "http://127.0.0.1:$NGINX_PORT/small" >/dev/null || { echo "nginx proxy not serving" >&2; exit 1; }

rps() { taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"$1" --latency "http://127.0.0.1:$2/small" | awk '/Requests\/sec/ {print $2}'; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
rps 1s "$NGINX_PORT" >/dev/null; rps 1s "$FLUSSO_PORT" >/dev/null   # warm-up, not recorded
: > "$work/nginx"; : > "$work/flusso"
for r in $(seq 1 "$REPS"); do
  if (( r % 2 )); then order=("nginx:$NGINX_PORT" "flusso:$FLUSSO_PORT"); else order=("flusso:$FLUSSO_PORT" "nginx:$NGINX_PORT"); fi
  for cell in "${order[@]}"; do
    name=${cell%%:*}; port=${cell##*:}
    v=$(rps "$DURATION" "$port"); echo "rep $r $name $v req/s" >&2; echo "$v" >> "$work/$name"
  done
done
n=$(median < "$work/nginx"); f=$(median < "$work/flusso")
echo "100 B, wrk -t1 -c$CONNECTIONS -d$DURATION x $REPS, proxy pinned to cpu1: nginx $n req/s, flusso(1 worker) $f req/s, flusso/nginx = $(awk -v f="$f" -v n="$n" 'BEGIN {printf "%.2f", f/n}')"
