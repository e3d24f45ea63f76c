# syntax=docker/dockerfile:1
# Castellan's container image: the CA server (`castellan ca serve`), the agent (`castellan agent`) and
# the operator commands, one image. docs/image.md explains every choice; build it with
#   docker build -t castellan .        (or: buildah bud --layers -t castellan .)
#
# Base images are arguments so a registry mirror or a digest pin can replace them:
#   --build-arg BUILD_IMAGE=docker.io/library/node:20-bookworm@sha256:...
ARG BUILD_IMAGE=docker.io/library/node:20-bookworm
ARG RUNTIME_IMAGE=gcr.io/distroless/nodejs20-debian12:nonroot

# --- build: compile TypeScript, then keep production dependencies only -----------------------------
FROM ${BUILD_IMAGE} AS build
# The commit `castellan_build_info` reports (scripts/write-build-info.mjs; there is no .git in the build).
ARG REVISION=unknown
WORKDIR /src
# node-gyp (better-sqlite3) uses the headers that ship with Node instead of downloading them.
ENV npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false
COPY package.json package-lock.json ./
# Dependencies first, so they stay cached while only sources change. Install scripts are skipped here
# (the package's `prepare` would compile sources not copied yet); the one native module is built next.
# An optional build secret `npm-ca` (a PEM bundle) lets npm through a TLS-intercepting proxy; a secret
# mount never ends up in a layer.
RUN --mount=type=cache,target=/root/.npm,sharing=locked \
    --mount=type=secret,id=npm-ca,required=false \
    if [ -s /run/secrets/npm-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/npm-ca npm_config_cafile=/run/secrets/npm-ca; fi; \
    npm ci --ignore-scripts --no-audit --no-fund \
    && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY scripts scripts
COPY workload-identity workload-identity
COPY proto-types proto-types
COPY ca ca
COPY sds sds
COPY cli cli
# Compile, drop dev dependencies, drop better-sqlite3's C sources and object files (not needed once the
# addon is linked), TypeScript sources, declarations and source maps (never loaded at run time), then
# check the native addon loads.
RUN CASTELLAN_BUILD_COMMIT="${REVISION}" npm run build \
    && npm prune --omit=dev --ignore-scripts --no-audit --no-fund \
    && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
              node_modules/better-sqlite3/build/Release/obj node_modules/better-sqlite3/build/Release/obj.target \
              node_modules/better-sqlite3/build/Release/.deps node_modules/better-sqlite3/build/deps \
    && find dist -name '*.map' -delete \
    && find node_modules -type f \( -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.map' \) -delete \
    && node -e "require('better-sqlite3')(':memory:').close()"

# --- runtime: Node and the compiled CLI, no shell, no package manager, non-root ----------------------
FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="castellan" \
      org.opencontainers.image.description="Workload-identity CA for service meshes: SPIFFE X509-SVIDs, Envoy SDS, root rotation, tamper-evident ledger" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
WORKDIR /app
# Owned by root and not writable by the process: the application cannot be changed at run time.
COPY --from=build /src/package.json ./package.json
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY proto ./proto
ENV NODE_ENV=production
# A fixed, numeric non-root identity (Kubernetes runAsNonRoot checks the number, not a name).
USER 65532:65532
# gRPC (CA API) and HTTP (/livez /healthz /readyz /metrics).
EXPOSE 15012 15014
# Exec form: Node is PID 1 and receives SIGTERM itself; `ca serve` and `agent` drain and exit 0.
ENTRYPOINT ["/nodejs/bin/node", "/app/bin/castellan.js"]
CMD ["--help"]
