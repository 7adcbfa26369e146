# syntax=docker/dockerfile:1
# Flusso image: Node.js 24 LTS on Debian 13 (trixie, glibc 2.41). The uWebSockets.js binaries
# need glibc 2.38 or newer, which trixie has, so `npm ci` here rewrites nothing and the package's
# own binary loads (docs/runtime.md). Alpine/musl has no uWebSockets.js build at all, and
# Flusso refuses to start there. Docker has no engine on the development machines, so
# scripts/smoke-debian13.sh builds the same runtime stage in a Debian 13 root filesystem and
# runs Flusso's startup smoke test in it.

FROM node:24-trixie-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
COPY scripts ./scripts
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM node:24-trixie-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# scripts/ holds the postinstall step npm ci runs (on glibc 2.41 it only checks that uWS loads).
COPY scripts ./scripts
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY demo ./demo
COPY gui ./gui
COPY LICENSE README.md ./
# The node image's unprivileged user (uid 1000); nothing in /app is writable by it.
USER node
EXPOSE 8080 8443 8081
# SIGTERM starts the drain: not ready, stop accepting, finish in-flight requests, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/flusso"]
