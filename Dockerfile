# TaskEngine image: one image for every process (api, worker, launcher); docker-compose.yml picks the
# command. Three stages:
#   manifests  the lockfile and every package.json of the tree, nothing else: `npm ci` below stays cached
#              until a dependency changes, and a new workspace needs no edit here
#   build      every dependency, `npm run build`, then each workspace's run-time files gathered in out/
#              (package.json, dist/ and data such as packages/core/lua; no sources, maps or typings)
#   runtime    production dependencies only (`npm ci --omit=dev`), out/ and config.yaml; runs as the
#              non-root `node` user, and owns nothing but /app/data
# RUN lines use paths relative to WORKDIR only: test/integration/containers.test.ts replays this file's
# steps in a temporary folder without a Docker engine and starts the api and workers from the result.
# No HEALTHCHECK here: workers share the image and serve no HTTP; compose gives the api its own.

FROM node:20-bookworm-slim AS manifests
WORKDIR /app
COPY . .
RUN find . -type f ! -name package.json ! -name package-lock.json -delete \
 && find . -type d -empty -delete

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY --from=manifests /app ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build \
 && mkdir -p out \
 && tar -cf - --exclude=node_modules --exclude=src --exclude='tsconfig*.json' --exclude='*.tsbuildinfo' \
      --exclude='*.map' --exclude='*.d.ts' apps packages \
  | tar -xf - -C out

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=manifests /app ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/out ./
COPY config.yaml ./
# The code stays root-owned and read-only to the engine; only the data folder (file_operation root and
# system_command workdir, ./data/files and ./data/work) is the node user's. A named volume mounted on
# /app/data starts out with this ownership.
RUN mkdir -p data/files data/work && chown -R node:node data
USER node
EXPOSE 8002
CMD ["node", "apps/api/dist/main.js"]
