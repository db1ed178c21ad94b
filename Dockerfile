# The exporter as a container image: one static binary (make build) on an
# empty base, so building needs no registry. Build with `make image`.
FROM scratch
LABEL org.opencontainers.image.title="pg_hardening_exporter" \
      org.opencontainers.image.description="Prometheus exporter for PostgreSQL with an alert rule pack, dashboards and guarded remediation" \
      org.opencontainers.image.source="https://github.com/pghardening/pg_hardening_exporter"
COPY pg_hardening_exporter /bin/pg_hardening_exporter
COPY queries.yaml /etc/pg_hardening_exporter/queries.yaml
USER 65534:65534
EXPOSE 9932
ENTRYPOINT ["/bin/pg_hardening_exporter"]
