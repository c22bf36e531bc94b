# redline's container image, used by deploy/kubernetes. Multi-stage: a full Rust toolchain
# builds the binary, and the runtime image holds only it, CA certificates (for rediss://)
# and /bin/sh (the Jobs' wrappers use it), running as a non-root user.
#
#   docker build -t redline:latest .
#   docker run --rm redline:latest run /scenarios/smoke.toml --redis redis://host:6379
#
# The image has no redis-server: give every run a --redis URL (REDIS_URL).

FROM rust:1-bookworm AS build
WORKDIR /src
# No debug info and a stripped binary: the runtime image stays small.
ENV CARGO_PROFILE_RELEASE_DEBUG=0 CARGO_PROFILE_RELEASE_STRIP=true
# Dependencies first, so a source change does not rebuild them: a stub crate with the
# same manifest compiles them into a cached layer.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && echo 'fn main() {}' > benches/hot_paths.rs \
    && cargo build --release --locked --bin redline \
    && rm -rf src benches
COPY src src
COPY benches benches
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin redline

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/redline /usr/local/bin/redline
COPY scenarios /scenarios
USER 65532:65532
WORKDIR /tmp
EXPOSE 9464
ENTRYPOINT ["redline"]
CMD ["--help"]
