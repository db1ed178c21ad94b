# The exporter as a container image: the static binary (make dist builds one
# per platform) on an empty base, so building needs no registry and no
# emulation for another architecture. Build with `make image`, which stages
# the context: linux-$TARGETARCH/pg_hardening_exporter, the build host's CA
# bundle as ca-certificates.crt (for sslmode=verify-full against a public
# CA), and queries.yaml. Time-zone data is compiled into the binary.
FROM scratch
ARG TARGETARCH=amd64
LABEL org.opencontainers.image.title="pg_hardening_exporter" \
      org.opencontainers.image.description="Prometheus exporter for PostgreSQL with an alert rule pack, dashboards and guarded remediation" \
      org.opencontainers.image.source="https://github.com/pghardening/pg_hardening_exporter" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY linux-${TARGETARCH}/pg_hardening_exporter /bin/pg_hardening_exporter
COPY queries.yaml /etc/pg_hardening_exporter/queries.yaml
USER 65534:65534
EXPOSE 9932
ENTRYPOINT ["/bin/pg_hardening_exporter"]
