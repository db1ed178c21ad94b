package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

func slruCounter(name, help string) *metric.Metric {
	return metric.Counter(name, help, "pg_stat_slru", "13+", "slru")
}

var (
	slruValues = []*metric.Metric{
		slruCounter("pg_stat_slru_blks_zeroed_total", "Blocks zeroed during initialization."),
		slruCounter("pg_stat_slru_blks_hit_total", "Blocks found in the SLRU cache."),
		slruCounter("pg_stat_slru_blks_read_total", "Blocks read from disk (missed the cache): a fast-growing rate means the cache is too small for the workload, e.g. many subtransactions or multixacts."),
		slruCounter("pg_stat_slru_blks_written_total", "Blocks written to disk."),
		slruCounter("pg_stat_slru_blks_exists_total", "Blocks checked for existence."),
		slruCounter("pg_stat_slru_flushes_total", "Flushes of dirty data."),
		slruCounter("pg_stat_slru_truncates_total", "Truncates."),
	}
	slruReset = metric.Gauge("pg_stat_slru_stats_reset_timestamp_seconds", "When the cache's statistics were last reset.", "pg_stat_slru", "13+", "slru")
)

func init() {
	Register(&Spec{
		Name:    "stat_slru",
		Help:    "Access to the SLRU caches (transaction status, subtransactions, multixacts, notifications, ...) from pg_stat_slru (one series per cache, a fixed set)",
		Scope:   Cluster,
		Default: true,
		Metrics: append(append([]*metric.Metric(nil), slruValues...), slruReset),
		New:     func(Options) (Collector, error) { return statSLRUCollector{}, nil },
	})
}

type statSLRUCollector struct{}

const statSLRUQuery = `SELECT name, blks_zeroed::float8, blks_hit::float8, blks_read::float8, blks_written::float8,
 blks_exists::float8, flushes::float8, truncates::float8, EXTRACT(EPOCH FROM stats_reset)::float8
 FROM pg_stat_slru`

func (statSLRUCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, statSLRUQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		v := make([]float64, len(slruValues))
		var reset *float64
		dest := []any{&name}
		for i := range v {
			dest = append(dest, &v[i])
		}
		if err := rows.Scan(append(dest, &reset)...); err != nil {
			return err
		}
		for i, m := range slruValues {
			m.Emit(ch, v[i], name)
		}
		emitIf(ch, slruReset, reset, name)
	}
	return rows.Err()
}
