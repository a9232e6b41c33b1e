# TaskEngine image: one image for every process (api, worker, launcher); docker-compose.yml picks the
# command. Two stages: `build` compiles the TypeScript with the dev dependencies; `runtime` holds the
# production dependencies, the compiled `dist` folders and config.yaml, and runs as the non-root `node` user.
# No HEALTHCHECK here: workers share the image and serve no HTTP; compose gives the api its own.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# Manifests first, so `npm ci` stays cached until a dependency changes.
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/executors/package.json packages/executors/
COPY packages/client/package.json packages/client/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/launcher/package.json apps/launcher/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/executors/package.json packages/executors/
COPY packages/client/package.json packages/client/
COPY apps/api/package.json apps/api/
COPY apps/worker/package.json apps/worker/
COPY apps/launcher/package.json apps/launcher/
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/packages/core/dist packages/core/dist
COPY --from=build /app/packages/executors/dist packages/executors/dist
COPY --from=build /app/packages/client/dist packages/client/dist
COPY --from=build /app/apps/api/dist apps/api/dist
COPY --from=build /app/apps/worker/dist apps/worker/dist
COPY --from=build /app/apps/launcher/dist apps/launcher/dist
COPY config.yaml ./
# The code stays root-owned and read-only to the engine; only the data folder (file_operation root and
# system_command workdir, ./data/files and ./data/work) is the node user's. A named volume mounted on
# /app/data starts out with this ownership.
RUN mkdir -p data/files data/work && chown -R node:node data
USER node
EXPOSE 8002
CMD ["node", "apps/api/dist/main.js"]
