package collector

import (
	"context"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const srcArchiver = "pg_stat_archiver"

var (
	archArchived   = metric.Counter("pg_stat_archiver_archived_total", "WAL files archived successfully.", srcArchiver, "13+")
	archFailed     = metric.Counter("pg_stat_archiver_failed_total", "Failed attempts to archive WAL files.", srcArchiver, "13+")
	archLastOK     = metric.Gauge("pg_stat_archiver_last_archived_timestamp_seconds", "When a WAL file was last archived successfully (absent if never).", srcArchiver, "13+")
	archLastFail   = metric.Gauge("pg_stat_archiver_last_failed_timestamp_seconds", "When archiving a WAL file last failed (absent if never).", srcArchiver, "13+")
	archFailing    = metric.Gauge("pg_stat_archiver_failing", "1 if the last archiving attempt failed (the last failure is newer than the last success), else 0.", srcArchiver, "13+")
	archEnabled    = metric.Gauge("pg_wal_archive_mode_enabled", "1 if archive_mode is on or always, 0 if off.", "archive_mode", "13+")
	archReady      = metric.Gauge("pg_wal_archive_ready_files", "Completed WAL files waiting to be archived (.ready files in pg_wal/archive_status).", "pg_ls_archive_statusdir()", "13+")
	archReadyOld   = metric.Gauge("pg_wal_archive_ready_oldest_timestamp_seconds", "When the oldest WAL file still waiting to be archived was completed (absent when none waits): its age is the data at risk, to compare with the RPO.", "pg_ls_archive_statusdir()", "13+")
	walDirBytes    = metric.Gauge("pg_wal_directory_size_bytes", "Total size of the files in the WAL directory.", "pg_ls_waldir()", "13+")
	walDirFiles    = metric.Gauge("pg_wal_directory_files", "Files in the WAL directory.", "pg_ls_waldir()", "13+")
	walPosition    = metric.Counter("pg_wal_lsn_bytes_total", "The WAL position as bytes since 0/0: the insert position on a primary, the replay position on a standby; its rate is the WAL generation rate.", "pg_current_wal_insert_lsn()", "13+")
	walUnarchived  = metric.Gauge("pg_wal_unarchived_bytes", "On a primary with archive_mode on: WAL written after the end of the last archived WAL file (0 when everything written is archived), the data a lost server takes with it; with time since the last archived file it measures the RPO even when no WAL file is complete. Absent on standbys, before the first file is archived and while the last archived file is a timeline history file.", "pg_stat_archiver, pg_current_wal_lsn()", "13+")
	archStatsReset = metric.Gauge("pg_stat_archiver_stats_reset_timestamp_seconds", "When the archiver statistics were last reset (absent if never).", srcArchiver, "13+")
)

func init() {
	Register(&Spec{
		Name:    "archiver",
		Help:    "WAL archiving (pg_stat_archiver, .ready backlog), WAL directory size and WAL position",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{archArchived, archFailed, archLastOK, archLastFail, archFailing, archEnabled, archReady, archReadyOld,
			walDirBytes, walDirFiles, walPosition, walUnarchived, archStatsReset},
		New: func(Options) (Collector, error) { return archiverCollector{}, nil },
	})
}

type archiverCollector struct{}

// pg_ls_waldir() and pg_ls_archive_statusdir() are granted to pg_monitor.
const walQuery = `SELECT a.archived_count::float8, a.failed_count::float8,
 EXTRACT(EPOCH FROM a.last_archived_time)::float8, EXTRACT(EPOCH FROM a.last_failed_time)::float8,
 EXTRACT(EPOCH FROM a.stats_reset)::float8,
 (a.last_failed_time IS NOT NULL AND (a.last_archived_time IS NULL OR a.last_failed_time > a.last_archived_time)),
 current_setting('archive_mode') <> 'off',
 r.n, r.oldest, w.n, w.bytes,
 pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_insert_lsn() END, '0/0')::float8,
 a.last_archived_wal,
 CASE WHEN NOT pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::float8 END,
 (SELECT setting::float8 FROM pg_settings WHERE name = 'wal_segment_size')
 FROM pg_stat_archiver a,
 (SELECT count(*)::float8 AS n, EXTRACT(EPOCH FROM min(modification))::float8 AS oldest
  FROM pg_ls_archive_statusdir() WHERE name LIKE '%.ready') r,
 (SELECT count(*)::float8 AS n, COALESCE(sum(size), 0)::float8 AS bytes FROM pg_ls_waldir()) w`

func (archiverCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	var (
		archived, failed, readyN, walN, walBytes float64
		lastOK, lastFail, reset, readyOld, pos   *float64
		written, segSize                         *float64
		lastWAL                                  *string
		failing, enabled                         bool
	)
	if err := s.Conn.QueryRow(ctx, walQuery).Scan(&archived, &failed, &lastOK, &lastFail, &reset, &failing, &enabled,
		&readyN, &readyOld, &walN, &walBytes, &pos, &lastWAL, &written, &segSize); err != nil {
		return err
	}
	if enabled && lastWAL != nil && written != nil && segSize != nil {
		if end, ok := walFileEnd(*lastWAL, *segSize); ok {
			walUnarchived.Emit(ch, max(*written-end, 0))
		}
	}
	archArchived.Emit(ch, archived)
	archFailed.Emit(ch, failed)
	emitIf(ch, archLastOK, lastOK)
	emitIf(ch, archLastFail, lastFail)
	emitIf(ch, archStatsReset, reset)
	archFailing.Emit(ch, b2f(failing))
	archEnabled.Emit(ch, b2f(enabled))
	archReady.Emit(ch, readyN)
	emitIf(ch, archReadyOld, readyOld)
	walDirBytes.Emit(ch, walBytes)
	walDirFiles.Emit(ch, walN)
	emitIf(ch, walPosition, pos)
	return nil
}

func emitIf(ch chan<- prometheus.Metric, m *metric.Metric, v *float64, labels ...string) {
	if v != nil {
		m.Emit(ch, *v, labels...)
	}
}

// walFileEnd is the WAL position (bytes since 0/0) where the WAL segment a
// file name starts with ends: TTTTTTTTXXXXXXXXYYYYYYYY is timeline, high
// 32 bits of the position and segment within them. Names of .partial and
// .backup files start with their segment's name; timeline history files
// (TTTTTTTT.history) name no segment.
//
// The write position (pg_current_wal_lsn) is what it is compared with: after
// a segment switch it sits exactly on the next segment's start, where the
// insert position already points past that segment's page header.
func walFileEnd(name string, segSize float64) (float64, bool) {
	if len(name) < 24 || segSize <= 0 {
		return 0, false
	}
	hi, err1 := strconv.ParseUint(name[8:16], 16, 32)
	seg, err2 := strconv.ParseUint(name[16:24], 16, 32)
	if _, err := strconv.ParseUint(name[:8], 16, 32); err != nil || err1 != nil || err2 != nil {
		return 0, false
	}
	return float64(hi)*(1<<32) + float64(seg+1)*segSize, true
}
