# Relay's image: the `relay` executable on Debian 12, built with the toolchain and system libraries the project is
# developed and tested with (Swift 6.3; Debian's librdkafka 2.0.2 and SQLite). docker-compose.yml builds it for
# every Relay service (docs/docker.md). Plain Dockerfile syntax, no BuildKit-only features: docker-compose 1.29's
# classic builder builds it too.
#
#   docker build -t relay .
#   docker run --rm relay version
ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---- build ---------------------------------------------------------------------------------------------------------
FROM ${SWIFT_IMAGE} AS build
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends librdkafka-dev libsqlite3-dev pkg-config libtcmalloc-minimal4 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# Dependencies first, so that a source change does not fetch them again. Package.resolved is not in git; when the
# build context has one (a developer's checkout), the image gets exactly those versions.
COPY Package.* ./
RUN swift package resolve
# Tests/ only because the manifest declares the test targets (SwiftPM checks that their directories exist); no test
# is built.
COPY Sources ./Sources
COPY Tests ./Tests
# --static-swift-stdlib: the Swift runtime and Foundation are linked in, so the runtime image needs only the C
# libraries below. The native plugins are linked into `relay` (their specs are the RelayPlugins resource bundle,
# which must sit beside the executable); the relay-plugin-* executables are not needed to run the pipeline.
RUN swift build -c release --product relay --static-swift-stdlib
RUN bin="$(swift build -c release --show-bin-path)" \
    && mkdir -p /staging \
    && cp "$bin/relay" /staging/ \
    && find -L "$bin" -maxdepth 1 -name '*.resources' -exec cp -R {} /staging/ \; \
    && cp /usr/libexec/swift/linux/swift-backtrace-static /staging/

# ---- runtime -------------------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE}
# librdkafka1 and libsqlite3-0: the C libraries Relay wraps; libtcmalloc-minimal4: relay's malloc (Package.swift);
# libcurl4: FoundationNetworking (external plugins'
# HTTP runner); ca-certificates for TLS to brokers (security.protocol=ssl) and plugins; tzdata for TimeZone.
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get -q update \
    && apt-get -q install -y --no-install-recommends librdkafka1 libsqlite3-0 libtcmalloc-minimal4 libcurl4 ca-certificates \
        tzdata \
    && rm -rf /var/lib/apt/lists/*
# A non-root user. Its ids are those of the usual first user of a Linux machine, so that a bind-mounted project
# directory is writable; docker-compose.yml runs the services as RELAY_UID:RELAY_GID (`user:`), which may differ.
ARG RELAY_UID=1000
ARG RELAY_GID=1000
RUN groupadd --system --gid "${RELAY_GID}" relay \
    && useradd --system --uid "${RELAY_UID}" --gid relay --create-home --home-dir /home/relay relay \
    && mkdir -p /project && chown relay:relay /project
COPY --from=build /staging /opt/relay
# Relay's topic declarations, for `relay topics apply --topics /opt/relay/topics` (the compose file's one-shot).
COPY topics /opt/relay/topics
ENV PATH=/opt/relay:$PATH \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/opt/relay/swift-backtrace-static
# The project directory (workflows/, connections/, plugins/, .relay/): mount it here. Commands that take --dir
# default to the current directory, so `relay runs list` works as it is.
WORKDIR /project
USER ${RELAY_UID}:${RELAY_GID}
ENTRYPOINT ["relay"]
CMD ["--help"]
