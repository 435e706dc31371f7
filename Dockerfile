# syntax=docker/dockerfile:1
#
# One image with the four binaries of vault: stg-service, dds-service, cdm-service and the
# `vault` operator CLI. The command picks the program (there is no ENTRYPOINT):
#
#   docker build -t streamvault:0.1.0 .
#   docker run --rm streamvault:0.1.0                       # vault --help
#   docker run --rm --env-file stg.env streamvault:0.1.0 stg-service
#   docker run --rm --env-file pg.env  streamvault:0.1.0 vault migrate
#
# No secrets at build time: every setting (passwords included) is an environment variable at
# run time; the CA certificate for SASL_SSL / verify-full is mounted at run time under /crt
# (Kafka reads KAFKA_CA_FILE, default /crt/YandexInternalRootCA.crt). No HEALTHCHECK: the
# orchestrator probes GET /healthz and /readyz on HTTP_PORT (5000). See docs/deploy.md.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- toolchain + cargo-chef ------------------------------------------------------------------
FROM ${RUST_IMAGE} AS chef
# rdkafka-sys builds librdkafka from source (linked statically): C compiler, make, pkg-config;
# openssl-sys and libz-sys link the system libssl3 and zlib dynamically.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config libssl-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

# ---- the dependency recipe (changes only when a Cargo.toml or Cargo.lock does) ---------------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---- build: dependencies in their own cached layer, then the workspace -----------------------
FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN cargo chef cook --release --locked --package vault-services --bins --recipe-path recipe.json
COPY . .
# The git revision the binaries report (--version, the start log line, vault_build_info): the
# build context has no .git, so pass it: --build-arg VAULT_GIT_REVISION=$(git rev-parse --short=12 HEAD).
# Not a secret; without it the binaries say "unknown".
ARG VAULT_GIT_REVISION=unknown
# The release profile keeps line tables (readable backtraces); compressing them takes each
# binary from ~57 MB to ~22 MB.
RUN cargo build --release --locked --package vault-services --bins \
 && mkdir -p /out \
 && for bin in stg-service dds-service cdm-service vault; do \
      objcopy --compress-debug-sections=zlib "target/release/$bin" "/out/$bin"; \
    done

# ---- runtime -----------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
# libssl3 (TLS to Kafka, PostgreSQL and Redis), ca-certificates (public CAs); zlib1g is part
# of the base image. The user is numeric so that runAsNonRoot can verify it.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 vault \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin vault \
 && mkdir -p /crt
COPY --from=builder /out/ /usr/local/bin/
USER 10001:10001
ENV RUST_LOG=info \
    HTTP_PORT=5000
EXPOSE 5000
CMD ["vault", "--help"]
