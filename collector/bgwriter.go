package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

// One set of names on every version: PostgreSQL 17 moved the checkpoint
// counters from pg_stat_bgwriter to pg_stat_checkpointer, and the names stay
// those operators know from pg_stat_bgwriter.
const srcBgwriter = "pg_stat_bgwriter (13-16), pg_stat_checkpointer (17+)"

var (
	bgwCheckpointsTimed = metric.Counter("pg_stat_bgwriter_checkpoints_timed_total",
		"Checkpoints started because checkpoint_timeout passed (on 17+ also those skipped because nothing changed).", srcBgwriter, "13+")
	bgwCheckpointsReq = metric.Counter("pg_stat_bgwriter_checkpoints_req_total",
		"Checkpoints requested: max_wal_size reached, CHECKPOINT, shutdown, backups.", srcBgwriter, "13+")
	bgwWriteTime = metric.Counter("pg_stat_bgwriter_checkpoint_write_time_seconds_total",
		"Time checkpoints spent writing files to disk.", srcBgwriter, "13+")
	bgwSyncTime = metric.Counter("pg_stat_bgwriter_checkpoint_sync_time_seconds_total",
		"Time checkpoints spent syncing files to disk.", srcBgwriter, "13+")
	bgwBuffersCheckpoint = metric.Counter("pg_stat_bgwriter_buffers_checkpoint_total",
		"Buffers written by checkpoints.", srcBgwriter, "13+")
	bgwBuffersClean = metric.Counter("pg_stat_bgwriter_buffers_clean_total",
		"Buffers written by the background writer.", "pg_stat_bgwriter", "13+")
	bgwMaxwritten = metric.Counter("pg_stat_bgwriter_maxwritten_clean_total",
		"Times the background writer stopped a round because it had written bgwriter_lru_maxpages buffers.", "pg_stat_bgwriter", "13+")
	bgwAlloc = metric.Counter("pg_stat_bgwriter_buffers_alloc_total",
		"Buffers allocated.", "pg_stat_bgwriter", "13+")
	bgwBuffersBackend = metric.Counter("pg_stat_bgwriter_buffers_backend_total",
		"Buffers written by backends themselves (on 16+ pg_stat_io breaks this down; 17 removed it).", "pg_stat_bgwriter", "13-16")
	bgwBackendFsync = metric.Counter("pg_stat_bgwriter_buffers_backend_fsync_total",
		"Times a backend had to fsync a file itself.", "pg_stat_bgwriter", "13-16")
	ckptRestartTimed = metric.Counter("pg_stat_checkpointer_restartpoints_timed_total",
		"On a standby: restartpoints scheduled because checkpoint_timeout passed (including those skipped because no checkpoint had been replayed).", "pg_stat_checkpointer", "17+")
	ckptRestartReq = metric.Counter("pg_stat_checkpointer_restartpoints_req_total",
		"On a standby: restartpoints requested (max_wal_size reached, CHECKPOINT, shutdown).", "pg_stat_checkpointer", "17+")
	ckptRestartDone = metric.Counter("pg_stat_checkpointer_restartpoints_done_total",
		"On a standby: restartpoints performed.", "pg_stat_checkpointer", "17+")
	ckptDone = metric.Counter("pg_stat_checkpointer_checkpoints_done_total",
		"Checkpoints completed (timed and requested, less those skipped because nothing changed).", "pg_stat_checkpointer", "18+")
	ckptSLRUWritten = metric.Counter("pg_stat_checkpointer_slru_written_total",
		"SLRU buffers written by checkpoints and restartpoints.", "pg_stat_checkpointer", "18+")
	bgwReset = metric.Gauge("pg_stat_bgwriter_stats_reset_timestamp_seconds",
		"When these counters were last reset; on 17+ the later of pg_stat_bgwriter's and pg_stat_checkpointer's resets.", srcBgwriter, "13+")
)

func init() {
	Register(&Spec{
		Name:    "bgwriter",
		Help:    "Checkpoints and background writer activity from pg_stat_bgwriter and, on 17+, pg_stat_checkpointer (with a standby's restartpoints)",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{bgwCheckpointsTimed, bgwCheckpointsReq, bgwWriteTime, bgwSyncTime, bgwBuffersCheckpoint,
			bgwBuffersClean, bgwMaxwritten, bgwAlloc, bgwBuffersBackend, bgwBackendFsync, bgwReset,
			ckptRestartTimed, ckptRestartReq, ckptRestartDone, ckptDone, ckptSLRUWritten},
		New: func(Options) (Collector, error) { return bgwriterCollector{}, nil },
	})
}

type bgwriterCollector struct{}

// One statement per scrape: from 17 pg_stat_checkpointer's own columns
// (restartpoints; from 18 num_done and slru_written) come with the
// pg_stat_bgwriter ones, as NULLs before.
const (
	bgwriterQuery13 = `SELECT checkpoints_timed::float8, checkpoints_req::float8, checkpoint_write_time / 1000,
 checkpoint_sync_time / 1000, buffers_checkpoint::float8, buffers_clean::float8, maxwritten_clean::float8,
 buffers_alloc::float8, buffers_backend::float8, buffers_backend_fsync::float8,
 EXTRACT(EPOCH FROM stats_reset)::float8,
 NULL::float8, NULL::float8, NULL::float8, NULL::float8, NULL::float8
 FROM pg_stat_bgwriter`
	bgwriterQuery17 = `SELECT c.num_timed::float8, c.num_requested::float8, c.write_time / 1000,
 c.sync_time / 1000, c.buffers_written::float8, b.buffers_clean::float8, b.maxwritten_clean::float8,
 b.buffers_alloc::float8, NULL::float8, NULL::float8,
 EXTRACT(EPOCH FROM GREATEST(b.stats_reset, c.stats_reset))::float8,
 c.restartpoints_timed::float8, c.restartpoints_req::float8, c.restartpoints_done::float8,
 NULL::float8, NULL::float8
 FROM pg_stat_bgwriter b, pg_stat_checkpointer c`
	bgwriterQuery18 = `SELECT c.num_timed::float8, c.num_requested::float8, c.write_time / 1000,
 c.sync_time / 1000, c.buffers_written::float8, b.buffers_clean::float8, b.maxwritten_clean::float8,
 b.buffers_alloc::float8, NULL::float8, NULL::float8,
 EXTRACT(EPOCH FROM GREATEST(b.stats_reset, c.stats_reset))::float8,
 c.restartpoints_timed::float8, c.restartpoints_req::float8, c.restartpoints_done::float8,
 c.num_done::float8, c.slru_written::float8
 FROM pg_stat_bgwriter b, pg_stat_checkpointer c`
)

func (bgwriterCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	q := bgwriterQuery13
	switch {
	case s.Facts.VersionNum >= 180000:
		q = bgwriterQuery18
	case s.Facts.VersionNum >= 170000:
		q = bgwriterQuery17
	}
	var v [8]float64
	var backend, fsync, reset *float64
	var c [5]*float64
	if err := s.Conn.QueryRow(ctx, q).Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &backend, &fsync, &reset,
		&c[0], &c[1], &c[2], &c[3], &c[4]); err != nil {
		return err
	}
	for i, m := range []*metric.Metric{bgwCheckpointsTimed, bgwCheckpointsReq, bgwWriteTime, bgwSyncTime, bgwBuffersCheckpoint,
		bgwBuffersClean, bgwMaxwritten, bgwAlloc} {
		m.Emit(ch, v[i])
	}
	if backend != nil {
		bgwBuffersBackend.Emit(ch, *backend)
	}
	if fsync != nil {
		bgwBackendFsync.Emit(ch, *fsync)
	}
	if reset != nil {
		bgwReset.Emit(ch, *reset)
	}
	for i, m := range []*metric.Metric{ckptRestartTimed, ckptRestartReq, ckptRestartDone, ckptDone, ckptSLRUWritten} {
		emitIf(ch, m, c[i])
	}
	return nil
}
