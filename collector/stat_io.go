package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

func ioCounter(name, help, versions string) *metric.Metric {
	return metric.Counter(name, help, "pg_stat_io", versions, "backend_type", "object", "context")
}

var (
	ioReads      = ioCounter("pg_stat_io_reads_total", "Read operations.", "16+")
	ioWrites     = ioCounter("pg_stat_io_writes_total", "Write operations.", "16+")
	ioWritebacks = ioCounter("pg_stat_io_writebacks_total", "Requests to the kernel to write data out to storage.", "16+")
	ioExtends    = ioCounter("pg_stat_io_extends_total", "Relation extend operations.", "16+")
	ioHits       = ioCounter("pg_stat_io_hits_total", "Times a wanted block was found in a shared or local buffer.", "16+")
	ioEvictions  = ioCounter("pg_stat_io_evictions_total", "Times a block was evicted from a buffer to make room for another.", "16+")
	ioReuses     = ioCounter("pg_stat_io_reuses_total", "Times a ring buffer was reused (bulkread, bulkwrite and vacuum contexts).", "16+")
	ioFsyncs     = ioCounter("pg_stat_io_fsyncs_total", "fsync calls (only counted in the normal context).", "16+")
	ioReadTime   = ioCounter("pg_stat_io_read_time_seconds_total", "Time spent reading (needs track_io_timing; track_wal_io_timing for object wal).", "16+")
	ioWriteTime  = ioCounter("pg_stat_io_write_time_seconds_total", "Time spent writing (needs track_io_timing; track_wal_io_timing for object wal).", "16+")
	ioWbTime     = ioCounter("pg_stat_io_writeback_time_seconds_total", "Time spent on writeback requests (needs track_io_timing).", "16+")
	ioExtendTime = ioCounter("pg_stat_io_extend_time_seconds_total", "Time spent extending relations (needs track_io_timing).", "16+")
	ioFsyncTime  = ioCounter("pg_stat_io_fsync_time_seconds_total", "Time spent in fsync (needs track_io_timing).", "16+")
	ioReadBytes  = ioCounter("pg_stat_io_read_bytes_total", "Bytes read (reads times op_bytes on 16-17, read_bytes on 18+).", "16+")
	ioWriteBytes = ioCounter("pg_stat_io_write_bytes_total", "Bytes written (writes times op_bytes on 16-17, write_bytes on 18+).", "16+")
	ioExtendByte = ioCounter("pg_stat_io_extend_bytes_total", "Bytes added by extending relations (extends times op_bytes on 16-17, extend_bytes on 18+).", "16+")
	ioReset      = metric.Gauge("pg_stat_io_stats_reset_timestamp_seconds", "When pg_stat_io was last reset.", "pg_stat_io", "16+")

	// ioValues are the columns after backend_type, object and context, in the
	// queries' order.
	ioValues = []*metric.Metric{ioReads, ioWrites, ioWritebacks, ioExtends, ioHits, ioEvictions, ioReuses, ioFsyncs,
		ioReadTime, ioWriteTime, ioWbTime, ioExtendTime, ioFsyncTime, ioReadBytes, ioWriteBytes, ioExtendByte}
)

func init() {
	Register(&Spec{
		Name:       "stat_io",
		Help:       "I/O by backend type, object and context from pg_stat_io (one series per row of the view, whose rows are a fixed set; operations a row cannot have are left out)",
		Scope:      Cluster,
		Default:    true,
		MinVersion: 160000,
		Metrics:    append(append([]*metric.Metric(nil), ioValues...), ioReset),
		New:        func(Options) (Collector, error) { return statIOCollector{}, nil },
	})
}

type statIOCollector struct{}

// 18 replaced op_bytes with read_bytes, write_bytes and extend_bytes. A NULL
// means the operation cannot happen for that row.
const (
	statIOQuery16 = `SELECT backend_type, object, context, reads::float8, writes::float8, writebacks::float8, extends::float8,
 hits::float8, evictions::float8, reuses::float8, fsyncs::float8,
 read_time / 1000, write_time / 1000, writeback_time / 1000, extend_time / 1000, fsync_time / 1000,
 (reads * op_bytes)::float8, (writes * op_bytes)::float8, (extends * op_bytes)::float8,
 EXTRACT(EPOCH FROM stats_reset)::float8
 FROM pg_stat_io`
	statIOQuery18 = `SELECT backend_type, object, context, reads::float8, writes::float8, writebacks::float8, extends::float8,
 hits::float8, evictions::float8, reuses::float8, fsyncs::float8,
 read_time / 1000, write_time / 1000, writeback_time / 1000, extend_time / 1000, fsync_time / 1000,
 read_bytes::float8, write_bytes::float8, extend_bytes::float8,
 EXTRACT(EPOCH FROM stats_reset)::float8
 FROM pg_stat_io`
)

func (statIOCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	q := statIOQuery16
	if s.Facts.VersionNum >= 180000 {
		q = statIOQuery18
	}
	rows, err := s.Conn.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	var reset *float64
	for rows.Next() {
		var bt, obj, ctxName string
		vals := make([]*float64, len(ioValues))
		var r *float64
		dest := []any{&bt, &obj, &ctxName}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		dest = append(dest, &r)
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		for i, m := range ioValues {
			if vals[i] != nil {
				m.Emit(ch, *vals[i], bt, obj, ctxName)
			}
		}
		if r != nil && (reset == nil || *r > *reset) {
			reset = r
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if reset != nil {
		ioReset.Emit(ch, *reset)
	}
	return nil
}
