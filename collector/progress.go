package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const srcProgress = "pg_stat_progress_*"

var (
	progressLabels = []string{"command", "datname", "phase"}
	progressOps    = metric.Gauge("pg_progress_operations", "Running VACUUM, ANALYZE, CREATE INDEX, CLUSTER/VACUUM FULL and base backups, by command and phase (datname is empty for base backups).", srcProgress, "13+", progressLabels...)
	progressBlocks = metric.Gauge("pg_progress_blocks", "Blocks the running operations will process in their current phase (vacuum and cluster: heap; analyze: sample; create_index: blocks).", srcProgress, "13+", progressLabels...)
	progressBlkDne = metric.Gauge("pg_progress_blocks_done", "Blocks the running operations have processed in their current phase.", srcProgress, "13+", progressLabels...)
	progressTuples = metric.Gauge("pg_progress_tuples", "Tuples the running CREATE INDEX operations will process in their current phase.", srcProgress, "13+", progressLabels...)
	progressTupDne = metric.Gauge("pg_progress_tuples_done", "Tuples processed (create_index: of pg_progress_tuples; cluster: heap tuples scanned).", srcProgress, "13+", progressLabels...)
	progressBytes  = metric.Gauge("pg_progress_bytes", "Bytes the running base backups will stream (0 while unknown).", "pg_stat_progress_basebackup", "13+", progressLabels...)
	progressBytDne = metric.Gauge("pg_progress_bytes_done", "Bytes the running base backups have streamed.", "pg_stat_progress_basebackup", "13+", progressLabels...)
	progressFams   = []*metric.Metric{progressOps, progressBlocks, progressBlkDne, progressTuples, progressTupDne, progressBytes, progressBytDne}
)

func init() {
	Register(&Spec{
		Name:    "progress",
		Help:    "Progress of running VACUUM, ANALYZE, CREATE INDEX, CLUSTER and base backups from pg_stat_progress_*",
		Scope:   Cluster,
		Default: true,
		Metrics: progressFams,
		New:     func(Options) (Collector, error) { return progressCollector{}, nil },
	})
}

type progressCollector struct{}

// progressHas says which of progressFams each command reports.
var progressHas = map[string][7]bool{
	"vacuum":       {true, true, true},
	"analyze":      {true, true, true},
	"create_index": {true, true, true, true, true},
	"cluster":      {true, true, true, false, true},
	"basebackup":   {true, false, false, false, false, true, true},
}

// Phases are fixed strings of the server's code, so the label stays bounded.
const progressQuery = `SELECT 'vacuum', COALESCE(datname, ''), phase, heap_blks_total::float8, heap_blks_scanned::float8, 0::float8, 0::float8, 0::float8, 0::float8 FROM pg_stat_progress_vacuum
UNION ALL SELECT 'analyze', COALESCE(datname, ''), phase, sample_blks_total::float8, sample_blks_scanned::float8, 0, 0, 0, 0 FROM pg_stat_progress_analyze
UNION ALL SELECT 'create_index', COALESCE(datname, ''), phase, blocks_total::float8, blocks_done::float8, tuples_total::float8, tuples_done::float8, 0, 0 FROM pg_stat_progress_create_index
UNION ALL SELECT 'cluster', COALESCE(datname, ''), phase, heap_blks_total::float8, heap_blks_scanned::float8, 0, heap_tuples_scanned::float8, 0, 0 FROM pg_stat_progress_cluster
UNION ALL SELECT 'basebackup', '', phase, 0, 0, 0, 0, COALESCE(backup_total, 0)::float8, backup_streamed::float8 FROM pg_stat_progress_basebackup`

func (progressCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, progressQuery)
	if err != nil {
		return err
	}
	type key struct{ cmd, db, phase string }
	sums := map[key]*[7]float64{}
	var order []key
	for rows.Next() {
		var k key
		var v [6]float64
		if err := rows.Scan(&k.cmd, &k.db, &k.phase, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]); err != nil {
			rows.Close()
			return err
		}
		acc := sums[k]
		if acc == nil {
			acc = &[7]float64{}
			sums[k] = acc
			order = append(order, k)
		}
		acc[0]++
		for i := range v {
			acc[i+1] += v[i]
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, k := range order {
		for i, m := range progressFams {
			if progressHas[k.cmd][i] {
				m.Emit(ch, sums[k][i], k.cmd, k.db, k.phase)
			}
		}
	}
	return nil
}
