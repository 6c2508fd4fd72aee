# Multi-stage build of the suite's binaries: the four exporters and the example service.
#   docker build -t monitoring-suite .
# The runtime image holds every binary; docker-compose.monitoring.yml picks one per service.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# Three builds: cargo unifies features across the packages of one build, and lapin (celery) and
# zbus (node) turn on tokio's multi-thread runtime, which the Redis and PostgreSQL exporters do not
# link on their own; node-exporter's function layout (exporters/node/build.rs) names the symbols
# of node-exporter built alone.
RUN cargo build --release --locked -p redis-exporter -p postgres-exporter \
 && cargo build --release --locked -p node-exporter \
 && cargo build --release --locked -p celery-exporter \
 && cargo build --release --locked --example forecaster_api --example loadgen \
 && mkdir /out \
 && cp target/release/node-exporter target/release/redis-exporter \
       target/release/postgres-exporter target/release/celery-exporter \
       target/release/examples/forecaster_api target/release/examples/loadgen /out/

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates wget \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 65532 --no-create-home exporter
COPY --from=build /out/ /usr/local/bin/
USER exporter
# Each service sets its own command; this default documents the choice.
CMD ["node-exporter", "--help"]
