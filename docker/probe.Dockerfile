# Adds a static busybox to an upstream image that ships no shell, wget or curl
# (grafana/loki 3.x is distroless), so docker-compose.yml can give it a real HTTP
# healthcheck: ["CMD", "/usr/local/bin/probe", "wget", "-q", "-O", "/dev/null", URL].
# The upstream image stays pinned: it is passed as BASE from docker-compose.yml.
ARG BASE
FROM busybox:1.37.0-musl AS busybox
FROM ${BASE}
COPY --from=busybox /bin/busybox /usr/local/bin/probe
