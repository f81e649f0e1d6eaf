# hookguard's image: a release build, then only the binary on a distroless base as a non-root user.
# Build: docker build -t hookguard .
# Run:   docker run -v $PWD/config.yaml:/etc/hookguard/config.yaml:ro -p 8080:8080 -p 9090:9090 hookguard
#        (or pass another path: docker run ... hookguard run --config /path/in/container.yaml)

# Both base images are pinned by digest, so a rebuild gets the same toolchain and the same runtime
# libraries until someone moves the pin on purpose. The tag stays beside it for humans (Docker
# ignores it when a digest is given). These digests were taken from public Dockerfiles and build
# logs, not read from the registry here (this repo's CI has no registry access):
# - rust:1.95-bookworm@sha256:6258907a… is what `docker build` resolved that tag to in a
#   published BuildKit log (Sept 2026) and is pinned likewise in several public repos; 1.95.0 is
#   the toolchain CI had when it was pinned, so the Dockerfile replay test
#   (tests/integration/dockerfile.rs, which uses CI's toolchain) built with the same compiler.
# - distroless/cc-debian12:nonroot@sha256:9dac0a79… is the multi-platform index pinned for that
#   tag by ten or more public repos in autumn 2026 (one notes it was reviewed on 2026-10-08).
# Refresh: `docker buildx imagetools inspect rust:1.95-bookworm` (or `crane digest …`) and the same
# for gcr.io/distroless/cc-debian12:nonroot; bump the Rust minor version together with the
# toolchain CI uses, and `rust-version` in Cargo.toml if it rises.
FROM rust:1.95-bookworm@sha256:6258907abe69656e41cd992e0b705cdcfabcbbe3db374f92ed2d47121282d4a1 AS build
WORKDIR /src
# Dependencies first, so editing the source does not refetch and rebuild every crate. Cargo
# parses every target the manifest names before it builds any, so the bench that [[bench]] names
# must be there too (tests/integration/dockerfile.rs replays these steps and fails when a file the
# manifest needs is missing). build.rs stamps `--version` with the git commit; with no .git in the
# context it says `unknown`.
COPY Cargo.toml Cargo.lock build.rs ./
COPY benches benches
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked --bin hookguard \
    && rm -rf src
COPY src src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin hookguard

# distroless/cc has glibc and libgcc, which the binary links, and nothing else: no shell, no
# package manager. Its :nonroot tag runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
COPY --from=build /src/target/release/hookguard /usr/local/bin/hookguard
USER 65532:65532
# 8080: webhooks (listen); 9090: /livez /readyz /metrics (admin).
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/hookguard"]
CMD ["run", "--config", "/etc/hookguard/config.yaml"]
