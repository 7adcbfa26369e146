# syntax=docker/dockerfile:1
# Flusso image. The uWebSockets.js build we use ships glibc binaries for the Node.js 20 ABI only,
# so the base is Debian (bookworm) with Node.js 20; Alpine/musl would load the slow JS fallback,
# which Flusso refuses at start.

FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY demo ./demo
COPY gui ./gui
COPY LICENSE README.md ./
# The node image's unprivileged user (uid 1000); nothing in /app is writable by it.
USER node
EXPOSE 8080 8081
# SIGTERM starts the drain: not ready, stop accepting, finish in-flight requests, exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/bin/flusso"]
