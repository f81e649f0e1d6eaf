# hookguard's image: a release build, then only the binary on a distroless base as a non-root user.
# Build: docker build -t hookguard .
# Run:   docker run -v $PWD/config.yaml:/etc/hookguard/config.yaml:ro -p 8080:8080 -p 9090:9090 hookguard
#        (or pass another path: docker run ... hookguard run --config /path/in/container.yaml)

FROM rust:1-bookworm AS build
WORKDIR /src
# Dependencies first, so editing the source does not refetch and rebuild every crate.
COPY Cargo.toml Cargo.lock ./
RUN mkdir src && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
    && cargo build --release --locked --bin hookguard \
    && rm -rf src
COPY src src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin hookguard

# distroless/cc has glibc and libgcc, which the binary links, and nothing else: no shell, no
# package manager. Its :nonroot tag runs as uid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/hookguard /usr/local/bin/hookguard
USER 65532:65532
# 8080: webhooks (listen); 9090: /livez /readyz /metrics (admin).
EXPOSE 8080 9090
ENTRYPOINT ["/usr/local/bin/hookguard"]
CMD ["run", "--config", "/etc/hookguard/config.yaml"]
