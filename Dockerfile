# syntax=docker/dockerfile:1
# Engram: one image for `serve` (default), `bot` and `mcp`. See docs/deploy.md.
#
#   docker build -t engram .
#   docker run --rm -v engram-data:/data engram keys create --admin   # once: prints an admin key
#   docker run --rm -p 127.0.0.1:8765:8765 -v engram-data:/data engram
#
# The server listens on 0.0.0.0 inside the container, so it refuses to start until the data
# volume holds an API key: create one first (it is shown only once), then send it as a Bearer token.
#
# Pinned base (Node.js 26, the LTS line), the same for both stages; bump it here (docs/operations.md, "Upgrades").
ARG NODE_IMAGE=node:26.12.1-trixie-slim

# ---- build: compile TypeScript and the native modules, then drop dev dependencies ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 builds from source when its prebuilt binary cannot be downloaded.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# onnxruntime-node's install script only downloads the CUDA provider from nuget.org; the CPU
# binaries are in the package. Never run it (package.json "allowScripts" denies it too, for npm
# versions that read that field).
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json ./
# Dependencies first (cached while only the sources change). No install script runs, then the one
# native module is built: better-sqlite3 (prebuilt binary, or from source).
RUN npm ci --ignore-scripts --no-audit --no-fund && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY bin ./bin
COPY src ./src
COPY bench ./bench
COPY ui ./ui
COPY scripts/build-ui.mjs ./scripts/
RUN npm run build && npm prune --omit=dev --no-audit --no-fund
# onnxruntime-node ships binaries for darwin, win32 and linux on arm64 and x64: keep only
# this build's platform (a multi-arch build runs this stage once per platform).
RUN ort=node_modules/onnxruntime-node/bin/napi-v6 \
 && keep="$(node -p 'process.platform + "/" + process.arch')" \
 && if [ -d "$ort" ]; then \
      find "$ort" -mindepth 2 -maxdepth 2 ! -path "$ort/$keep" -exec rm -rf {} + \
      && find "$ort" -mindepth 1 -maxdepth 1 -type d -empty -delete; \
    fi

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
# The program and the web UI; the benchmarks (dist/bench) stay behind, as in the npm package.
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/ui ./dist/ui
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
