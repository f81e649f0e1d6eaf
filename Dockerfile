# A first image: build a release binary, run it as a non-root user on a minimal base.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin hookguard

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/hookguard /usr/local/bin/hookguard
USER nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/hookguard"]
CMD ["run", "--config", "/etc/hookguard/config.yaml"]
