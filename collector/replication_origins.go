package collector

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const srcOriginStatus = "pg_replication_origin_status"

var (
	originCount = metric.Gauge("pg_replication_origins",
		"Replication origins defined on the server (each subscription has one).", "pg_replication_origin", "13+")
	originReadable = metric.Gauge("pg_replication_origin_status_readable",
		"1 if the exporter's role may read pg_replication_origin_status, 0 if not: PostgreSQL grants it to superusers only, not to pg_monitor, and the progress series are then absent (not 0). GRANT SELECT ON pg_replication_origin_status and EXECUTE ON FUNCTION pg_show_replication_origin_status() to the role to get them.",
		srcOriginStatus, "13+")
	originRemote = metric.Gauge("pg_replication_origin_remote_position_bytes",
		"The origin's replay progress: the position in the remote server's WAL up to which changes have been applied here (remote_lsn as bytes). One series per origin with a replication state, bounded by max_replication_slots (max_active_replication_origins on 18+).",
		srcOriginStatus, "13+", "origin")
	originLocal = metric.Gauge("pg_replication_origin_local_position_bytes",
		"The local WAL position of the commit of the last change applied from the origin (local_lsn as bytes).",
		srcOriginStatus, "13+", "origin")
)

func init() {
	Register(&Spec{
		Name:    "replication_origins",
		Help:    "Replication origins and their replay progress from pg_replication_origin_status (progress only where the role may read it)",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{originCount, originReadable, originRemote, originLocal},
		New:     func(Options) (Collector, error) { return originsCollector{}, nil },
	})
}

type originsCollector struct{}

const (
	originCountQuery  = `SELECT count(*)::float8 FROM pg_replication_origin`
	originStatusQuery = `SELECT COALESCE(external_id, local_id::text),
 pg_wal_lsn_diff(remote_lsn, '0/0')::float8, pg_wal_lsn_diff(local_lsn, '0/0')::float8
 FROM pg_replication_origin_status`
)

type originRow struct {
	name          string
	remote, local *float64
}

func (originsCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	var n float64
	if err := s.Conn.QueryRow(ctx, originCountQuery).Scan(&n); err != nil {
		return err
	}
	originCount.Emit(ch, n)
	var origins []originRow
	ok, err := queryPermitted(ctx, s, srcOriginStatus, "pg_show_replication_origin_status()", originStatusQuery, func(rows pgx.Rows) error {
		var r originRow
		if err := rows.Scan(&r.name, &r.remote, &r.local); err != nil {
			return err
		}
		origins = append(origins, r)
		return nil
	})
	if err != nil {
		return err
	}
	originReadable.Emit(ch, b2f(ok))
	if !ok {
		return nil
	}
	for _, r := range origins {
		emitIf(ch, originRemote, r.remote, r.name)
		emitIf(ch, originLocal, r.local, r.name)
	}
	return nil
}
