package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

var (
	walRecords    = metric.Counter("pg_stat_wal_records_total", "WAL records generated.", "pg_stat_wal", "14+")
	walFPI        = metric.Counter("pg_stat_wal_fpi_total", "WAL full page images generated.", "pg_stat_wal", "14+")
	walBytes      = metric.Counter("pg_stat_wal_bytes_total", "WAL generated, in bytes.", "pg_stat_wal", "14+")
	walBufFull    = metric.Counter("pg_stat_wal_buffers_full_total", "Times WAL was written to disk because the WAL buffers were full.", "pg_stat_wal", "14+")
	walWrite      = metric.Counter("pg_stat_wal_write_total", "Times WAL buffers were written to disk (18 moved this to pg_stat_io, object wal).", "pg_stat_wal", "14-17")
	walSync       = metric.Counter("pg_stat_wal_sync_total", "Times WAL files were synced to disk (18 moved this to pg_stat_io, object wal).", "pg_stat_wal", "14-17")
	walWriteTime  = metric.Counter("pg_stat_wal_write_time_seconds_total", "Time spent writing WAL buffers to disk (needs track_wal_io_timing).", "pg_stat_wal", "14-17")
	walSyncTime   = metric.Counter("pg_stat_wal_sync_time_seconds_total", "Time spent syncing WAL files to disk (needs track_wal_io_timing).", "pg_stat_wal", "14-17")
	walStatsReset = metric.Gauge("pg_stat_wal_stats_reset_timestamp_seconds", "When pg_stat_wal was last reset.", "pg_stat_wal", "14+")
)

func init() {
	Register(&Spec{
		Name:       "wal",
		Help:       "WAL generation and writes from pg_stat_wal",
		Scope:      Cluster,
		Default:    true,
		MinVersion: 140000,
		Metrics:    []*metric.Metric{walRecords, walFPI, walBytes, walBufFull, walWrite, walSync, walWriteTime, walSyncTime, walStatsReset},
		New:        func(Options) (Collector, error) { return walCollector{}, nil },
	})
}

type walCollector struct{}

const (
	walQuery14 = `SELECT wal_records::float8, wal_fpi::float8, wal_bytes::float8, wal_buffers_full::float8,
 wal_write::float8, wal_sync::float8, wal_write_time / 1000, wal_sync_time / 1000, EXTRACT(EPOCH FROM stats_reset)::float8
 FROM pg_stat_wal`
	walQuery18 = `SELECT wal_records::float8, wal_fpi::float8, wal_bytes::float8, wal_buffers_full::float8,
 NULL::float8, NULL::float8, NULL::float8, NULL::float8, EXTRACT(EPOCH FROM stats_reset)::float8
 FROM pg_stat_wal`
)

func (walCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	q := walQuery14
	if s.Facts.VersionNum >= 180000 {
		q = walQuery18
	}
	var v [4]float64
	var io [4]*float64
	var reset *float64
	if err := s.Conn.QueryRow(ctx, q).Scan(&v[0], &v[1], &v[2], &v[3], &io[0], &io[1], &io[2], &io[3], &reset); err != nil {
		return err
	}
	for i, m := range []*metric.Metric{walRecords, walFPI, walBytes, walBufFull} {
		m.Emit(ch, v[i])
	}
	for i, m := range []*metric.Metric{walWrite, walSync, walWriteTime, walSyncTime} {
		if io[i] != nil {
			m.Emit(ch, *io[i])
		}
	}
	if reset != nil {
		walStatsReset.Emit(ch, *reset)
	}
	return nil
}
