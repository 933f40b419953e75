# syntax=docker/dockerfile:1
# One image for every role: `node dist/main.js all|api|worker|simulator`.

FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json vite.config.mjs ./
COPY src ./src
# The build also copies Redoc's bundle from @redocly/cli (a dev dependency) into dist/docs/,
# so /docs works from this image, which keeps no dev dependencies, and Vite (another) builds
# the wallboard page into dist/wallboard/: the image ships those built files, not Vite.
COPY scripts/build-assets.mjs ./scripts/
RUN npm run build && npm prune --omit=dev

FROM node:24-slim
ENV NODE_ENV=production
# V8's old space capped at 128 MiB: a process lives in about 40 MiB, and without a cap V8
# lets garbage pile up to ~200 MiB of RSS under load before it collects (BENCHMARKS.md §5).
# The young generation at 8 MiB a semi-space: Node 24 sizes it far larger by default (a
# young generation near 100 MiB), which under a 128 MiB cap leaves V8 running full
# collections back to back (113 in a 5 s flood; the API took 0.24x the intents a second).
# package.json's start scripts pass the same flags; scripts/validate-deploy.mjs checks they agree.
ENV NODE_OPTIONS="--max-old-space-size=128 --max-semi-space-size=8"
WORKDIR /app
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# The node user (uid 1000) owns nothing here: the code is read-only to the process.
USER node
EXPOSE 3000 9464 8089
# The role is the last argument; compose and k8s override it (api, worker, simulator).
CMD ["node", "dist/main.js", "all"]
