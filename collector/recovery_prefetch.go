package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const srcPrefetch = "pg_stat_recovery_prefetch"

var (
	prefetchCounters = []*metric.Metric{
		metric.Counter("pg_stat_recovery_prefetch_prefetch_total", "Blocks prefetched during recovery because they were not in the buffer pool.", srcPrefetch, "15+"),
		metric.Counter("pg_stat_recovery_prefetch_hit_total", "Blocks not prefetched because they were already in the buffer pool.", srcPrefetch, "15+"),
		metric.Counter("pg_stat_recovery_prefetch_skip_init_total", "Blocks not prefetched because they would be zero-initialized.", srcPrefetch, "15+"),
		metric.Counter("pg_stat_recovery_prefetch_skip_new_total", "Blocks not prefetched because they did not exist yet.", srcPrefetch, "15+"),
		metric.Counter("pg_stat_recovery_prefetch_skip_fpw_total", "Blocks not prefetched because a full page image was in the WAL.", srcPrefetch, "15+"),
		metric.Counter("pg_stat_recovery_prefetch_skip_rep_total", "Blocks not prefetched because they were already recently prefetched.", srcPrefetch, "15+"),
	}
	prefetchWALDistance   = metric.Gauge("pg_stat_recovery_prefetch_wal_distance_bytes", "How far ahead in the WAL the prefetcher is looking.", srcPrefetch, "15+")
	prefetchBlockDistance = metric.Gauge("pg_stat_recovery_prefetch_block_distance", "Blocks the prefetcher is looking ahead.", srcPrefetch, "15+")
	prefetchIODepth       = metric.Gauge("pg_stat_recovery_prefetch_io_depth", "Prefetches started but not yet known to be done.", srcPrefetch, "15+")
	prefetchReset         = metric.Gauge("pg_stat_recovery_prefetch_stats_reset_timestamp_seconds", "When these statistics were last reset.", srcPrefetch, "15+")
)

func init() {
	Register(&Spec{
		Name:       "recovery_prefetch",
		Help:       "WAL prefetching during recovery (recovery_prefetch) from pg_stat_recovery_prefetch; all 0 on a primary that has not recovered since its statistics were reset",
		Scope:      Cluster,
		Default:    true,
		MinVersion: 150000,
		Metrics:    append(append([]*metric.Metric(nil), prefetchCounters...), prefetchWALDistance, prefetchBlockDistance, prefetchIODepth, prefetchReset),
		New:        func(Options) (Collector, error) { return recoveryPrefetchCollector{}, nil },
	})
}

type recoveryPrefetchCollector struct{}

const recoveryPrefetchQuery = `SELECT prefetch::float8, hit::float8, skip_init::float8, skip_new::float8, skip_fpw::float8, skip_rep::float8,
 wal_distance::float8, block_distance::float8, io_depth::float8, EXTRACT(EPOCH FROM stats_reset)::float8
 FROM pg_stat_recovery_prefetch`

func (recoveryPrefetchCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	v := make([]float64, len(prefetchCounters)+3)
	var reset *float64
	var dest []any
	for i := range v {
		dest = append(dest, &v[i])
	}
	if err := s.Conn.QueryRow(ctx, recoveryPrefetchQuery).Scan(append(dest, &reset)...); err != nil {
		return err
	}
	for i, m := range append(append([]*metric.Metric(nil), prefetchCounters...), prefetchWALDistance, prefetchBlockDistance, prefetchIODepth) {
		m.Emit(ch, v[i])
	}
	emitIf(ch, prefetchReset, reset)
	return nil
}
