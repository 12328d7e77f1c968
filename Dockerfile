# syntax=docker/dockerfile:1
# Engram: one image for `serve` (default), `bot` and `mcp`. See docs/deploy.md.
#
#   docker build -t engram .
#   docker run -p 8765:8765 -v engram-data:/data engram
#
# Pinned base; bump both stages together (docs/operations.md, "Upgrades").
ARG NODE_IMAGE=node:20.19.5-bookworm-slim

# ---- build: compile TypeScript and the native modules, then drop dev dependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 builds from source when its prebuilt binary cannot be downloaded.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json .npmrc ./
# Dependencies first (cached while only the sources change); install scripts run in `npm rebuild`.
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY bench ./bench
COPY ui ./ui
COPY scripts/build-ui.mjs ./scripts/
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: slim, non-root, read-only root filesystem compatible ----
FROM ${NODE_IMAGE} AS runtime
# tini reaps zombies and forwards SIGTERM to Node (graceful shutdown); git serves the knowledge base.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    ENGRAM_HOST=0.0.0.0 \
    ENGRAM_PORT=8765 \
    ENGRAM_DATA_DIR=/data \
    HOME=/tmp
# The application is owned by root and read-only for the `node` user (uid 1000) that runs it.
# The embedding model (Universal Sentence Encoder) is part of node_modules: nothing is downloaded at start.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY docs ./docs
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 8765
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.ENGRAM_PORT||8765)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/engram.js"]
CMD ["serve"]
