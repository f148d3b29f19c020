# syntax=docker/dockerfile:1
# deprovisiond: TypeScript run through tsx (a runtime dependency), so there is no build
# step of our own; the build stage only compiles better-sqlite3's native module.
#
#   docker build -t deprovisiond .
#   docker run --rm -p 8080:8080 --stop-timeout 30 \
#     -v "$PWD/config/sandbox.yaml:/etc/deprovisiond/config.yaml:ro" \
#     -v deprovisiond-data:/var/lib/deprovisiond deprovisiond
#
# docs/operations.md covers configuration, volumes, signals and upgrades.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# Compile better-sqlite3 against this image's Node and glibc instead of downloading a
# prebuilt binary; node-gyp takes the headers the Node image ships (no download).
RUN npm_config_build_from_source=better-sqlite3 npm_config_nodedir=/usr/local npm ci \
 && npm prune --omit=dev \
 && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to node (which drains) and reaps zombies, with or
# without `docker run --init`, and in Kubernetes where there is no --init.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 deprovisiond \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/deprovisiond --no-create-home \
      --shell /usr/sbin/nologin deprovisiond \
 && mkdir -p /etc/deprovisiond /var/lib/deprovisiond \
 && chown 10001:10001 /var/lib/deprovisiond
WORKDIR /app
# HOST and DATA_DIR are what config/sandbox.yaml reads; PORT is read by the example
# configs and by the HEALTHCHECK below.
# The V8 heap caps: without them V8 lets garbage pile up to a size derived from the host's
# memory (hundreds of MB under a burst), though the daemon's live heap stays far below 192 MB
# (docs/benchmarks.md: mass termination). Small semi-spaces keep each thread's young
# generation (the daemon's and the attempt worker's) at 12 MB instead of 48 MB. Raise the
# old-space cap with large SCIM directories.
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-old-space-size=192 --max-semi-space-size=4" \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/var/lib/deprovisiond
# Code and dependencies stay owned by root: the daemon cannot rewrite itself.
COPY --from=build /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY providers ./providers
COPY config ./config
USER 10001:10001
VOLUME ["/etc/deprovisiond", "/var/lib/deprovisiond"]
EXPOSE 8080
# /healthz answers 200 while the process serves HTTP. The slim image has no curl: use node's fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/deprovisiond.js"]
CMD ["serve", "--config", "/etc/deprovisiond/config.yaml"]
