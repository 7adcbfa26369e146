#!/usr/bin/env bash
# smoke-debian13.sh: stands in for `docker build` + a startup smoke test of the Flusso image on a
# machine without a Docker engine.
#
# The Dockerfile's runtime stage is node:24-trixie-slim (Debian 13, glibc 2.41). On glibc 2.38 and
# newer, scripts/postinstall.mjs writes no rewritten uWebSockets.js binary
# (uws_linux_<arch>_<abi>.glibc-compat.node), so src/shared/uws-native.ts loads the package's own,
# unmodified binary. This script proves that premise without Docker:
#
#   1. debootstraps a minimal Debian 13 root filesystem once (--variant=minbase trixie) into a
#      cache directory, marked complete only after debootstrap succeeded;
#   2. copies it to a scratch directory (the cache stays clean) and builds the runtime stage in
#      it as the Dockerfile does: the official Node.js 24 binary that scripts/runtime pins at
#      /usr/local/bin/node, an npm 11 CLI at /usr/local/bin/npm, then in /app:
#      package.json, package-lock.json and scripts/, `npm ci --omit=dev` run INSIDE the chroot,
#      then dist/ (this checkout's build: run `npm run build` first), bin/, demo/, gui/,
#      LICENSE, README.md;
#   3. checks: glibc is 2.41, node is v24 (the pinned version), no *.glibc-compat.node exists,
#      the postinstall output says nothing was rewritten;
#   4. starts `node /app/bin/flusso` inside the chroot as uid 1000 (`node`, as the image's
#      USER), with two workers and a one-Ingress manifest directory pointing at a small backend
#      on the host (the chroot shares the host's network), then checks /readyz, a proxied
#      request, the `"node":"v24.` log lines, that the workers mapped
#      uws_linux_<arch>_<abi>.node (not a .glibc-compat.node), and a clean exit 0 on SIGTERM;
#   5. prints PASS/FAIL per check and exits non-zero when any check failed.
#
# Usage: sudo scripts/smoke-debian13.sh [CACHE_DIR]      (default /var/tmp/flusso-trixie-rootfs)
# Needs: root (chroot, mounts), debootstrap (installed with apt-get when missing), curl, and
# network access to deb.debian.org and registry.npmjs.org.
# Environment: FLUSSO_SMOKE_MIRROR (Debian mirror), FLUSSO_SMOKE_KEEP=1 (keep the scratch root
# filesystem for inspection; its mounts are still removed), FLUSSO_SMOKE_NPM_DIR (the npm
# package directory to copy in, when this machine's npm is not found).
#
# Time: cold (first run: debootstrap downloads and unpacks a ~215 MB minbase system, ~40 s here)
# about 1 minute; warm (the base root filesystem and npm's download cache, CACHE_DIR/npm-cache,
# reused) about 15 to 20 seconds: the copy, npm ci, then a few seconds of flusso. Everything the run creates outside CACHE_DIR is removed on exit, failure
# included: the scratch copy under /var/tmp, the chroot's mounts, the processes it started.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${1:-${FLUSSO_SMOKE_CACHE:-/var/tmp/flusso-trixie-rootfs}}
BASE=$CACHE/rootfs
BASE_DONE=$CACHE/rootfs.complete
NPM_CACHE=$CACHE/npm-cache
MIRROR=${FLUSSO_SMOKE_MIRROR:-http://deb.debian.org/debian}
SUITE=trixie
EXPECT_GLIBC=2.41
EXPECT_NODE_MAJOR=24
KEEP=${FLUSSO_SMOKE_KEEP:-0}
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

START=$SECONDS
log() { printf '[smoke +%3ss] %s\n' "$((SECONDS - START))" "$*"; }
die() {
  printf '[smoke] ERROR: %s\n' "$*" >&2
  exit 1
}

# --- results -------------------------------------------------------------------------------
NAMES=()
RESULTS=()
DETAILS=()
FAILED=0
# check NAME OK(0|1) DETAIL: records one check.
check() {
  NAMES+=("$1")
  DETAILS+=("$3")
  if [[ $2 == 0 ]]; then
    RESULTS+=(PASS)
  else
    RESULTS+=(FAIL)
    FAILED=1
  fi
  printf '[smoke +%3ss] %s: %s (%s)\n' "$((SECONDS - START))" "${RESULTS[-1]}" "$1" "$3"
}
INFO_GLIBC='?'
INFO_NODE='?'
INFO_NPM='?'
INFO_UWS='?'
INFO_USER='?'

summary() {
  echo
  echo '==================== smoke-debian13 summary ===================='
  local i
  for i in "${!NAMES[@]}"; do
    printf '%-4s  %-44s %s\n' "${RESULTS[$i]}" "${NAMES[$i]}" "${DETAILS[$i]}"
  done
  echo '----------------------------------------------------------------'
  echo "glibc in the root filesystem: $INFO_GLIBC"
  echo "node in the root filesystem:  $INFO_NODE (npm $INFO_NPM)"
  echo "uWS binary the workers loaded: $INFO_UWS"
  echo "flusso ran as:                $INFO_USER"
  echo "wall time:                    $((SECONDS - START)) s"
  if [[ $FAILED == 0 && $1 == 0 && ${#NAMES[@]} -gt 0 ]]; then
    echo 'RESULT: PASS'
  else
    echo 'RESULT: FAIL'
  fi
}

# --- cleanup -------------------------------------------------------------------------------
WORK=
ROOT=
FLUSSO_PID=
BACKEND_PID=
WORKER_PIDS=()

# mounts_under DIR: the mount points at or below DIR, deepest first.
mounts_under() {
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r
}
# unmount_under DIR: removes every mount at or below DIR (lazily when busy).
unmount_under() {
  local m
  for m in $(mounts_under "$1"); do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || echo "[smoke] could not unmount $m" >&2
  done
}
# alive PID: whether PID still runs (a zombie child counts as gone).
alive() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [[ $FAILED == 0 ]] || rc=1
  if [[ -n $FLUSSO_PID ]] && alive "$FLUSSO_PID"; then
    kill -TERM "$FLUSSO_PID" 2>/dev/null
    for _ in $(seq 50); do alive "$FLUSSO_PID" || break; sleep 0.1; done
    alive "$FLUSSO_PID" && kill -KILL "$FLUSSO_PID" 2>/dev/null
  fi
  local p
  for p in "${WORKER_PIDS[@]}"; do alive "$p" && kill -KILL "$p" 2>/dev/null; done
  [[ -n $BACKEND_PID ]] && kill "$BACKEND_PID" 2>/dev/null
  wait 2>/dev/null
  # debootstrap mounts proc/sys in its target: an interrupted one may leave them behind.
  [[ -d $BASE ]] && unmount_under "$BASE"
  if [[ -n $WORK && -d $WORK ]]; then
    unmount_under "$WORK"
    if [[ -n $(mounts_under "$WORK") ]]; then
      echo "[smoke] mounts remain under $WORK; not removing it" >&2
    elif [[ $KEEP == 1 ]]; then
      echo "[smoke] kept $WORK (FLUSSO_SMOKE_KEEP=1)"
    else
      rm -rf --one-file-system "$WORK"
    fi
  fi
  summary "$rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- preconditions -------------------------------------------------------------------------
[[ $EUID == 0 ]] || die 'needs root (debootstrap, chroot, mounts): run it with sudo'
[[ $(uname -s) == Linux ]] || die 'needs Linux'
case $(uname -m) in
  x86_64) ARCH=x64 DEB_ARCH=amd64 ;;
  aarch64) ARCH=arm64 DEB_ARCH=arm64 ;;
  *) die "no Node.js/uWebSockets.js build for $(uname -m)" ;;
esac
command -v curl >/dev/null || die 'needs curl'
for d in dist bin demo gui scripts; do [[ -d $REPO/$d ]] || die "$REPO/$d is missing (run npm ci && npm run build first)"; done
for f in package.json package-lock.json LICENSE README.md dist/primary/main.js; do [[ -f $REPO/$f ]] || die "$REPO/$f is missing"; done
if [[ -n $(find "$REPO/src" -name '*.ts' -newer "$REPO/dist/primary/main.js" -print -quit) ]]; then
  log "note: some src/ files are newer than dist/primary/main.js; this tests dist/ as it is (npm run build to refresh it)"
fi

PIN=$(grep -o "\"node-linux-$ARCH\": *\"[^\"]*\"" "$REPO/scripts/runtime/package.json" | sed 's/.*: *"\(.*\)"/\1/' | head -n1)
[[ -n $PIN ]] || die "scripts/runtime/package.json pins no node-linux-$ARCH"

# --- 1. base root filesystem (cached) ------------------------------------------------------
mkdir -p "$CACHE" "$NPM_CACHE"
if [[ -f $BASE_DONE && -x $BASE/usr/bin/getconf ]]; then
  log "reusing the Debian $SUITE base root filesystem in $BASE (debootstrapped $(cat "$BASE_DONE"))"
else
  if ! command -v debootstrap >/dev/null; then
    log 'installing debootstrap'
    apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null
  fi
  if [[ -e $BASE ]]; then
    log "discarding an incomplete root filesystem in $BASE (an earlier debootstrap did not finish)"
    unmount_under "$BASE"
    rm -rf --one-file-system "$BASE"
  fi
  rm -f "$BASE_DONE"
  log "debootstrap --variant=minbase $SUITE $BASE $MIRROR (log: $CACHE/debootstrap.log)"
  if ! debootstrap --arch="$DEB_ARCH" --variant=minbase "$SUITE" "$BASE" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE/debootstrap.log" >&2
    unmount_under "$BASE"
    die "debootstrap failed (full log: $CACHE/debootstrap.log)"
  fi
  unmount_under "$BASE"
  date -u +%Y-%m-%dT%H:%M:%SZ >"$BASE_DONE"
  log 'debootstrap done'
fi

# --- 2. the runtime stage, in a scratch copy ---------------------------------------------
WORK=$(mktemp -d /var/tmp/flusso-smoke.XXXXXX)
ROOT=$WORK/root
log "copying the base root filesystem to $ROOT"
cp -a "$BASE" "$ROOT"

# Node.js: the official binary scripts/runtime pins (the node:24 images keep it in /usr/local/bin).
NODE_SRC=$REPO/node_modules/.flusso-runtime/node_modules/node-linux-$ARCH/bin/node
if [[ ! -x $NODE_SRC || $("$NODE_SRC" --version 2>/dev/null) != "v$PIN" ]]; then
  log "fetching node-linux-$ARCH@$PIN from the npm registry"
  mkdir -p "$WORK/pack"
  (cd "$WORK/pack" && npm pack "node-linux-$ARCH@$PIN" --silent >/dev/null && tar -xzf ./*.tgz)
  NODE_SRC=$WORK/pack/package/bin/node
fi
[[ $("$NODE_SRC" --version) == "v$PIN" ]] || die "$NODE_SRC is not Node.js v$PIN"
install -D -m 0755 "$NODE_SRC" "$ROOT/usr/local/bin/node"
HOST_NODE=$NODE_SRC # runs this script's helpers on the host (backend, JSON)

# npm: a pure JavaScript CLI; copy this machine's, with the bin links the node image has.
NPM_DIR=
npm_candidates=("${FLUSSO_SMOKE_NPM_DIR:-}" /usr/lib/node_modules/npm /usr/local/lib/node_modules/npm)
if npm_bin=$(command -v npm 2>/dev/null); then
  npm_candidates=("${FLUSSO_SMOKE_NPM_DIR:-}" "$(dirname "$(dirname "$(readlink -f "$npm_bin")")")" "${npm_candidates[@]:1}")
fi
for c in "${npm_candidates[@]}"; do
  if [[ -n $c && -f $c/bin/npm-cli.js && -f $c/package.json ]] && grep -q '"name": *"npm"' "$c/package.json"; then
    NPM_DIR=$c
    break
  fi
done
[[ -n $NPM_DIR ]] || die 'cannot find the npm package directory; set FLUSSO_SMOKE_NPM_DIR'
mkdir -p "$ROOT/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$ROOT/usr/local/lib/node_modules/npm"
ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"

# The image's unprivileged user: uid/gid 1000 `node`, as the node images create it.
if [[ -x $ROOT/usr/sbin/useradd && -x $ROOT/usr/sbin/groupadd ]]; then
  chroot "$ROOT" /usr/sbin/groupadd --gid 1000 node
  chroot "$ROOT" /usr/sbin/useradd --uid 1000 --gid node --shell /bin/bash --create-home node
else
  echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$ROOT/etc/passwd"
  echo 'node:x:1000:' >>"$ROOT/etc/group"
  install -d -o 1000 -g 1000 "$ROOT/home/node"
fi

# Mounts for the chroot (removed by cleanup, failure included).
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
mount --bind /sys "$ROOT/sys"
# /dev/shm is its own mount on the host, so the bind above shows the bare directory under it;
# a container gets a fresh world-writable tmpfs there (Docker: 64 MiB, mode 1777), so does this.
mount -t tmpfs -o mode=1777,size=64m shm "$ROOT/dev/shm"
mkdir -p "$ROOT/root/.npm"
mount --bind "$NPM_CACHE" "$ROOT/root/.npm"
cp --remove-destination -L /etc/resolv.conf "$ROOT/etc/resolv.conf"

# in_root CMD...: runs CMD in the chroot as root, with the image's environment.
in_root() {
  chroot "$ROOT" /usr/bin/env -i PATH="$CHROOT_PATH" HOME=/root LANG=C.UTF-8 NODE_ENV=production "$@"
}

INFO_GLIBC=$(in_root getconf GNU_LIBC_VERSION 2>&1 || true)
INFO_NODE=$(in_root node --version 2>&1 || true)
INFO_NPM=$(in_root npm --version 2>&1 || true)
ldd_line=$(in_root ldd --version 2>&1 | head -n1 || true)
r=0; [[ $INFO_GLIBC == "glibc $EXPECT_GLIBC" ]] || r=1
check "glibc is $EXPECT_GLIBC" $r "getconf: $INFO_GLIBC; ldd: $ldd_line"
r=0; [[ $INFO_NODE == "v$EXPECT_NODE_MAJOR."* && $INFO_NODE == "v$PIN" ]] || r=1
check "node is v$EXPECT_NODE_MAJOR (pinned v$PIN)" $r "/usr/local/bin/node --version: $INFO_NODE"

# COPY package.json package-lock.json ./ ; COPY scripts ./scripts ; RUN npm ci --omit=dev
install -d "$ROOT/app"
cp "$REPO/package.json" "$REPO/package-lock.json" "$ROOT/app/"
cp -a "$REPO/scripts" "$ROOT/app/scripts"
chown -R 0:0 "$ROOT/app"
# The registry as this machine reaches it: its proxy settings and, behind a TLS-intercepting
# proxy, its CA bundle (NODE_EXTRA_CA_CERTS or npm's cafile) for npm ci alone. A docker build here
# would need the same; the app under test is not affected.
npm_env=()
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  [[ -n ${!v:-} ]] && npm_env+=("$v=${!v}")
done
host_ca=${NODE_EXTRA_CA_CERTS:-}
if [[ -z $host_ca ]] && command -v npm >/dev/null; then
  host_ca=$(npm config get cafile 2>/dev/null || true)
fi
if [[ -n $host_ca && $host_ca != null && $host_ca != undefined && -r $host_ca ]]; then
  install -D -m 0644 "$host_ca" "$ROOT/usr/local/share/flusso-smoke/host-ca.crt"
  npm_env+=(NODE_EXTRA_CA_CERTS=/usr/local/share/flusso-smoke/host-ca.crt)
  log "npm ci in the chroot trusts this machine's CA bundle too ($host_ca)"
fi
log "npm ci --omit=dev in the chroot (npm $INFO_NPM; log: npm-ci.log)"
npm_rc=0
in_root "${npm_env[@]}" sh -c 'cd /app && npm ci --omit=dev --no-audit --no-fund --foreground-scripts' >"$WORK/npm-ci.log" 2>&1 || npm_rc=$?
grep 'flusso postinstall:' "$WORK/npm-ci.log" | sed 's/^/    /' || true
if [[ $npm_rc != 0 ]]; then
  tail -n 30 "$WORK/npm-ci.log" | sed 's/^/    /'
fi
check 'npm ci --omit=dev succeeds' "$npm_rc" "exit $npm_rc"
[[ $npm_rc == 0 ]] || exit 1

UWS_DIR=$ROOT/app/node_modules/uWebSockets.js
ABI=$(in_root node -p process.versions.modules)
EXPECT_UWS=uws_linux_${ARCH}_${ABI}.node
compat=$(find "$UWS_DIR" -name '*.glibc-compat.node' -printf '%f\n' 2>/dev/null | paste -sd' ' || true)
r=0; [[ -f $UWS_DIR/$EXPECT_UWS && -z $compat ]] || r=1
check 'no *.glibc-compat.node was written' $r "$([[ -f $UWS_DIR/$EXPECT_UWS ]] && echo "$EXPECT_UWS present" || echo "$EXPECT_UWS MISSING"); compat copies: ${compat:-none}"

rewrote=$(grep -E 'flusso postinstall: .*glibc-compat\.node' "$WORK/npm-ci.log" || true)
loads=$(grep -o "flusso postinstall: uWebSockets.js loads on Node.js v$EXPECT_NODE_MAJOR\.[^ ]*" "$WORK/npm-ci.log" || true)
r=0; [[ -z $rewrote && -n $loads ]] || r=1
check 'postinstall rewrote nothing, uWS loads' $r "${rewrote:-no rewrite lines}; ${loads:-NO 'uWebSockets.js loads' line}"
r=0
[[ ! -e $ROOT/app/node_modules/.flusso-runtime && ! -e $ROOT/app/node_modules/.bin/node ]] || r=1
grep -q "flusso postinstall: Node.js v$PIN runs npm: Flusso uses it" "$WORK/npm-ci.log" || r=1
check "postinstall kept the image's node" $r "$(grep -o 'flusso postinstall: Node.js [^:]*: Flusso uses it' "$WORK/npm-ci.log" || echo 'no "Flusso uses it" line / .flusso-runtime present')"

# COPY --from=build /src/dist ./dist ; COPY bin demo gui LICENSE README.md
for d in dist bin demo gui; do cp -a "$REPO/$d" "$ROOT/app/$d"; done
cp "$REPO/LICENSE" "$REPO/README.md" "$ROOT/app/"
chown -R 0:0 "$ROOT/app"

# --- 3. startup smoke test -----------------------------------------------------------------
# free_port FROM: the first TCP port from FROM up that nothing listens on and we did not take.
TAKEN=()
free_port() {
  local p=$1
  while [[ -n $(ss -Hltn "sport = :$p") || " ${TAKEN[*]} " == *" $p "* ]]; do p=$((p + 1)); done
  echo "$p"
}
HTTP_PORT=$(free_port 28080)
TAKEN+=("$HTTP_PORT")
ADMIN_PORT=$(free_port 28081)
TAKEN+=("$ADMIN_PORT")
BACKEND_PORT=$(free_port 28090)
TAKEN+=("$BACKEND_PORT")
TOKEN=flusso-smoke-$RANDOM$RANDOM

# The backend: a tiny HTTP server on the host's loopback (the chroot shares the network).
cat >"$WORK/backend.mjs" <<'EOF'
import http from 'node:http';
const [port, token] = process.argv.slice(2);
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(`${token} ${req.method} ${req.url} host=${req.headers.host}\n`);
}).listen(Number(port), '127.0.0.1');
EOF
"$HOST_NODE" "$WORK/backend.mjs" "$BACKEND_PORT" "$TOKEN" >"$WORK/backend.log" 2>&1 &
BACKEND_PID=$!

# A manifest directory of one Ingress (Host smoke.test) -> Service -> EndpointSlice -> backend.
install -d -m 0755 "$ROOT/smoke/manifests"
cat >"$ROOT/smoke/manifests/smoke.yaml" <<EOF
apiVersion: networking.k8s.io/v1
kind: IngressClass
metadata:
  name: flusso
  creationTimestamp: "2026-01-01T00:00:00Z"
spec:
  controller: flusso.dev/ingress-controller
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: smoke
  namespace: smoke
  creationTimestamp: "2026-01-01T00:01:00Z"
spec:
  ingressClassName: flusso
  rules:
    - host: smoke.test
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: smoke-backend
                port:
                  name: http
---
apiVersion: v1
kind: Service
metadata:
  name: smoke-backend
  namespace: smoke
  creationTimestamp: "2026-01-01T00:01:00Z"
spec:
  selector:
    app: smoke-backend
  ports:
    - name: http
      port: 80
      targetPort: $BACKEND_PORT
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: smoke-backend-1
  namespace: smoke
  labels:
    kubernetes.io/service-name: smoke-backend
  creationTimestamp: "2026-01-01T00:01:00Z"
addressType: IPv4
ports:
  - name: http
    port: $BACKEND_PORT
    protocol: TCP
endpoints:
  - addresses: ["127.0.0.1"]
    conditions: { ready: true }
EOF
chmod 0644 "$ROOT/smoke/manifests/smoke.yaml"

for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$BACKEND_PORT/" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$BACKEND_PORT/" >/dev/null || die 'the host backend did not start'

# USER node; WORKDIR /app; ENTRYPOINT ["node", "/app/bin/flusso"]. chroot and env exec, so
# $! is the flusso primary itself.
log "starting flusso in the chroot as uid 1000 (proxy :$HTTP_PORT, admin :$ADMIN_PORT, backend :$BACKEND_PORT)"
chroot --userspec=1000:1000 --groups=1000 "$ROOT" /usr/bin/env -i -C /app PATH="$CHROOT_PATH" HOME=/home/node LANG=C.UTF-8 NODE_ENV=production \
  node /app/bin/flusso --source file --manifests /smoke/manifests --http-address 127.0.0.1 --http-port "$HTTP_PORT" \
  --admin-port "$ADMIN_PORT" --workers 2 --log-level info >"$WORK/flusso.log" 2>&1 &
FLUSSO_PID=$!
t_flusso=$SECONDS

ready_code=000
while ((SECONDS - t_flusso < 30)); do
  ready_code=$(curl -s -o "$WORK/readyz.json" -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/readyz" 2>/dev/null || true)
  [[ $ready_code == 200 ]] && break
  alive "$FLUSSO_PID" || break
  sleep 0.1
done
if [[ $ready_code != 200 ]]; then
  echo '    --- flusso output ---'
  tail -n 40 "$WORK/flusso.log" | sed 's/^/    /'
fi
r=0; [[ $ready_code == 200 ]] || r=1
check '/readyz is 200 within 30 s' $r "HTTP $ready_code $((SECONDS - t_flusso)) s after start; $(alive "$FLUSSO_PID" && echo running || echo 'flusso EXITED')"
[[ $ready_code == 200 ]] || exit 1

INFO_USER=$(awk '/^Uid:/ { print "uid " $2 }' "/proc/$FLUSSO_PID/status")
INFO_USER="$INFO_USER (primary pid $FLUSSO_PID, $(readlink "/proc/$FLUSSO_PID/exe" | sed "s|^$ROOT||"))"

# /readyz: {"ready":true,"generation":N,"workers":[{"pid":..,"listening":true,"node":"v24..."},..]}
readyz=$(cat "$WORK/readyz.json")
workers_summary=$("$HOST_NODE" -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const w = Array.isArray(r.workers) ? r.workers : [];
  const ok = r.ready === true && w.length === 2 && w.every((x) => x.listening === true && /^v24\./.test(x.node));
  console.log(`${ok ? "ok" : "bad"} ${w.map((x) => x.pid).join(",")} ready=${r.ready} workers=${w.length} ${w.map((x) => `pid ${x.pid} listening=${x.listening} node=${x.node}`).join("; ")}`);
' "$WORK/readyz.json" 2>&1 || echo "bad - unparsable: $readyz")
read -r w_ok w_pids w_detail <<<"$workers_summary"
IFS=, read -r -a WORKER_PIDS <<<"$w_pids"
r=0; [[ $w_ok == ok ]] || r=1
check '/readyz lists 2 listening v24 workers' $r "$w_detail"

# A request through the proxy reaches the backend.
proxy_code=000
for _ in $(seq 50); do
  proxy_code=$(curl -s -o "$WORK/proxy.out" -w '%{http_code}' -H 'Host: smoke.test' "http://127.0.0.1:$HTTP_PORT/smoke?x=1" 2>/dev/null || true)
  [[ $proxy_code == 200 ]] && break
  sleep 0.1
done
body=$(head -c 200 "$WORK/proxy.out" 2>/dev/null | tr -d '\n' || true)
r=0; [[ $proxy_code == 200 && $body == "$TOKEN GET /smoke?x=1 "* ]] || r=1
check 'Host: smoke.test through the proxy is 200' $r "HTTP $proxy_code: $body"

# Which uWS binary each process mapped (from the host: same pid namespace).
maps_ok=0
maps_detail=
uws_paths=()
for p in "$FLUSSO_PID" "${WORKER_PIDS[@]}"; do
  [[ $p =~ ^[0-9]+$ ]] || { maps_ok=1; continue; }
  mapped=$(grep -o '/[^ ]*uws_[^ ]*\.node' "/proc/$p/maps" 2>/dev/null | sort -u || true)
  [[ -n $mapped ]] || { maps_ok=1; maps_detail+="pid $p: none; "; continue; }
  while read -r m; do
    uws_paths+=("${m#"$ROOT"}")
    [[ $(basename "$m") == "$EXPECT_UWS" ]] || maps_ok=1
  done <<<"$mapped"
  maps_detail+="pid $p: $(xargs -n1 basename <<<"$mapped" | paste -sd' '); "
done
[[ ${#WORKER_PIDS[@]} == 2 ]] || maps_ok=1
INFO_UWS=$(printf '%s\n' "${uws_paths[@]:-none}" | sort -u | paste -sd' ')
if [[ -f $UWS_DIR/$EXPECT_UWS && -f $REPO/node_modules/uWebSockets.js/$EXPECT_UWS ]]; then
  if cmp -s "$UWS_DIR/$EXPECT_UWS" "$REPO/node_modules/uWebSockets.js/$EXPECT_UWS"; then
    INFO_UWS+=" (the installed $EXPECT_UWS, sha256 $(sha256sum "$UWS_DIR/$EXPECT_UWS" | cut -c1-16)..., is byte-identical to this checkout's unpatched one)"
  else
    INFO_UWS+=" (the installed $EXPECT_UWS, sha256 $(sha256sum "$UWS_DIR/$EXPECT_UWS" | cut -c1-16)..., DIFFERS from this checkout's)"
  fi
fi
check "processes mapped $EXPECT_UWS" "$maps_ok" "${maps_detail%; }"

# The JSON log lines carry the Node.js version: one `listening` per worker, `flusso started`.
listening=$(grep -c '"msg":"listening"' "$WORK/flusso.log" | tr -d '\n' || true)
listening24=$(grep '"msg":"listening"' "$WORK/flusso.log" | grep -c '"node":"v24\.' || true)
started24=$(grep '"msg":"flusso started"' "$WORK/flusso.log" | grep -c '"node":"v24\.' || true)
r=0; [[ $listening24 -ge 2 && $listening24 == "$listening" && $started24 == 1 ]] || r=1
check 'log lines say "node":"v24.' $r "$listening24/$listening listening lines and $started24 'flusso started' line with \"node\":\"v24."

# SIGTERM: drain, exit 0 within 35 s.
kill -TERM "$FLUSSO_PID"
t0=$SECONDS
while ((SECONDS - t0 <= 35)); do
  alive "$FLUSSO_PID" || break
  sleep 0.1
done
if alive "$FLUSSO_PID"; then
  check 'SIGTERM: exit 0 within 35 s' 1 "still running after $((SECONDS - t0)) s"
else
  exit_rc=0
  wait "$FLUSSO_PID" || exit_rc=$?
  FLUSSO_PID=
  left=
  for p in "${WORKER_PIDS[@]}"; do alive "$p" && left+="$p "; done
  r=0; [[ $exit_rc == 0 && -z $left ]] || r=1
  check 'SIGTERM: exit 0 within 35 s' $r "exit $exit_rc after $((SECONDS - t0)) s; workers left: ${left:-none}"
fi

if [[ $FAILED != 0 ]]; then
  echo '    --- flusso output (last 40 lines) ---'
  tail -n 40 "$WORK/flusso.log" | sed 's/^/    /'
fi
[[ $FAILED == 0 ]] # cleanup prints the summary
