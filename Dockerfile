# Build stage: the release binary. The migrations, seed and GraphiQL assets are compiled in.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin gazette

# Run stage: the binary alone. The database is the `postgres` service (DATABASE_URL).
FROM debian:bookworm-slim
# Root certificates, for announcing feeds to an https WebSub hub.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /var/lib/gazette gazette
COPY --from=build /src/target/release/gazette /usr/local/bin/gazette
USER gazette
ENV GAZETTE_LISTEN=0.0.0.0:8080 \
    GAZETTE_DATA_DIR=/var/lib/gazette
EXPOSE 8080
ENTRYPOINT ["gazette"]
CMD ["serve"]
