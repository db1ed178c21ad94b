package collector

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

const srcStatDatabase = "pg_stat_database"

var (
	dbNumBackends   = metric.Gauge("pg_stat_database_numbackends", "Backends connected to the database.", srcStatDatabase, "13+", "datname")
	dbXactCommit    = metric.Counter("pg_stat_database_xact_commit_total", "Transactions committed.", srcStatDatabase, "13+", "datname")
	dbXactRollback  = metric.Counter("pg_stat_database_xact_rollback_total", "Transactions rolled back (serialization failures and deadlock victims end here too).", srcStatDatabase, "13+", "datname")
	dbBlksRead      = metric.Counter("pg_stat_database_blks_read_total", "Disk blocks read (missed shared buffers).", srcStatDatabase, "13+", "datname")
	dbBlksHit       = metric.Counter("pg_stat_database_blks_hit_total", "Disk blocks found in shared buffers.", srcStatDatabase, "13+", "datname")
	dbTupReturned   = metric.Counter("pg_stat_database_tup_returned_total", "Live rows fetched by sequential scans and index entries returned by index scans.", srcStatDatabase, "13+", "datname")
	dbTupFetched    = metric.Counter("pg_stat_database_tup_fetched_total", "Live rows fetched by index scans.", srcStatDatabase, "13+", "datname")
	dbTupInserted   = metric.Counter("pg_stat_database_tup_inserted_total", "Rows inserted.", srcStatDatabase, "13+", "datname")
	dbTupUpdated    = metric.Counter("pg_stat_database_tup_updated_total", "Rows updated.", srcStatDatabase, "13+", "datname")
	dbTupDeleted    = metric.Counter("pg_stat_database_tup_deleted_total", "Rows deleted.", srcStatDatabase, "13+", "datname")
	dbConflicts     = metric.Counter("pg_stat_database_conflicts_total", "Queries cancelled by recovery conflicts (standbys only).", srcStatDatabase, "13+", "datname")
	dbTempFiles     = metric.Counter("pg_stat_database_temp_files_total", "Temporary files created by queries.", srcStatDatabase, "13+", "datname")
	dbTempBytes     = metric.Counter("pg_stat_database_temp_bytes_total", "Bytes written to temporary files by queries.", srcStatDatabase, "13+", "datname")
	dbDeadlocks     = metric.Counter("pg_stat_database_deadlocks_total", "Deadlocks detected.", srcStatDatabase, "13+", "datname")
	dbChecksumFails = metric.Counter("pg_stat_database_checksum_failures_total", "Data page checksum failures (0 when checksums are off).", srcStatDatabase, "13+", "datname")
	dbBlkReadTime   = metric.Counter("pg_stat_database_blk_read_time_seconds_total", "Time spent reading data file blocks (needs track_io_timing).", srcStatDatabase, "13+", "datname")
	dbBlkWriteTime  = metric.Counter("pg_stat_database_blk_write_time_seconds_total", "Time spent writing data file blocks (needs track_io_timing).", srcStatDatabase, "13+", "datname")
	dbStatsReset    = metric.Gauge("pg_stat_database_stats_reset_timestamp_seconds", "When the database's statistics were last reset (absent if never).", srcStatDatabase, "13+", "datname")
	dbSessionTime   = metric.Counter("pg_stat_database_session_time_seconds_total", "Time spent by sessions in this database.", srcStatDatabase, "14+", "datname")
	dbActiveTime    = metric.Counter("pg_stat_database_active_time_seconds_total", "Time spent executing statements.", srcStatDatabase, "14+", "datname")
	dbIdleInXact    = metric.Counter("pg_stat_database_idle_in_transaction_time_seconds_total", "Time spent idle in a transaction.", srcStatDatabase, "14+", "datname")
	dbSessions      = metric.Counter("pg_stat_database_sessions_total", "Sessions established.", srcStatDatabase, "14+", "datname")
	dbAbandoned     = metric.Counter("pg_stat_database_sessions_abandoned_total", "Sessions ended because the client went away.", srcStatDatabase, "14+", "datname")
	dbFatal         = metric.Counter("pg_stat_database_sessions_fatal_total", "Sessions ended by fatal errors.", srcStatDatabase, "14+", "datname")
	dbKilled        = metric.Counter("pg_stat_database_sessions_killed_total", "Sessions terminated by operator intervention.", srcStatDatabase, "14+", "datname")
	dbSize          = metric.Gauge("pg_database_size_bytes", "Disk space used by the database; re-read every objects.sizes_ttl (default 5m), since it stats every file.", "pg_database_size()", "13+", "datname")
)

func init() {
	Register(&Spec{
		Name:    "database",
		Help:    "Per-database activity, I/O, conflicts and size from pg_stat_database",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{dbNumBackends, dbXactCommit, dbXactRollback, dbBlksRead, dbBlksHit, dbTupReturned,
			dbTupFetched, dbTupInserted, dbTupUpdated, dbTupDeleted, dbConflicts, dbTempFiles, dbTempBytes,
			dbDeadlocks, dbChecksumFails, dbBlkReadTime, dbBlkWriteTime, dbStatsReset, dbSessionTime,
			dbActiveTime, dbIdleInXact, dbSessions, dbAbandoned, dbFatal, dbKilled, dbSize},
		New: func(o Options) (Collector, error) {
			return &databaseCollector{sizesTTL: o.Config.Objects.SizesTTL, sizes: map[*target.Target]*dbSizes{}}, nil
		},
	})
}

// databaseCollector reads pg_stat_database every scrape and the database
// sizes only every sizesTTL: pg_database_size() stats every file of a
// database, which on a database with many tables costs more than all the
// statistics views together.
type databaseCollector struct {
	sizesTTL time.Duration

	mu    sync.Mutex
	sizes map[*target.Target]*dbSizes
}

type dbSizes struct {
	at    time.Time
	bytes map[string]float64
}

const databaseSizeQuery = `SELECT datname, pg_database_size(oid)::float8 FROM pg_database WHERE datallowconn`

// readSizes returns the sizes of the target's databases, from the cache while
// it is younger than sizesTTL.
func (c *databaseCollector) readSizes(ctx context.Context, s *Scrape) (map[string]float64, error) {
	c.mu.Lock()
	cached := c.sizes[s.Target]
	c.mu.Unlock()
	if cached != nil && time.Since(cached.at) < c.sizesTTL {
		return cached.bytes, nil
	}
	rows, err := s.Conn.Query(ctx, databaseSizeQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]float64{}
	for rows.Next() {
		var name string
		var size float64
		if err := rows.Scan(&name, &size); err != nil {
			return nil, err
		}
		out[name] = size
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	c.mu.Lock()
	now := time.Now()
	c.sizes[s.Target] = &dbSizes{at: now, bytes: out}
	for t, e := range c.sizes { // targets closed long ago
		if now.Sub(e.at) > 2*c.sizesTTL+time.Hour {
			delete(c.sizes, t)
		}
	}
	c.mu.Unlock()
	return out, nil
}

// The row with a NULL datname holds shared catalogs' counters; it is left out.
const databaseQuery13 = `SELECT d.datname, d.numbackends::float8, d.xact_commit::float8, d.xact_rollback::float8, d.blks_read::float8,
 d.blks_hit::float8, d.tup_returned::float8, d.tup_fetched::float8, d.tup_inserted::float8, d.tup_updated::float8,
 d.tup_deleted::float8, d.conflicts::float8, d.temp_files::float8, d.temp_bytes::float8, d.deadlocks::float8,
 COALESCE(d.checksum_failures, 0)::float8, d.blk_read_time / 1000, d.blk_write_time / 1000,
 EXTRACT(EPOCH FROM d.stats_reset)::float8,
 0::float8, 0::float8, 0::float8, 0::float8, 0::float8, 0::float8, 0::float8
 FROM pg_stat_database d JOIN pg_database db ON db.oid = d.datid WHERE d.datname IS NOT NULL AND db.datallowconn`

const databaseQuery14 = `SELECT d.datname, d.numbackends::float8, d.xact_commit::float8, d.xact_rollback::float8, d.blks_read::float8,
 d.blks_hit::float8, d.tup_returned::float8, d.tup_fetched::float8, d.tup_inserted::float8, d.tup_updated::float8,
 d.tup_deleted::float8, d.conflicts::float8, d.temp_files::float8, d.temp_bytes::float8, d.deadlocks::float8,
 COALESCE(d.checksum_failures, 0)::float8, d.blk_read_time / 1000, d.blk_write_time / 1000,
 EXTRACT(EPOCH FROM d.stats_reset)::float8,
 d.session_time / 1000, d.active_time / 1000, d.idle_in_transaction_time / 1000, d.sessions::float8,
 d.sessions_abandoned::float8, d.sessions_fatal::float8, d.sessions_killed::float8
 FROM pg_stat_database d JOIN pg_database db ON db.oid = d.datid WHERE d.datname IS NOT NULL AND db.datallowconn`

func (c *databaseCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	// Sizes are a side dish: when they cannot be read (a statement_timeout on
	// a huge cluster), the statistics are still reported, with the last sizes
	// read, and the error is returned at the end.
	sizes, sizeErr := c.readSizes(ctx, s)
	if sizeErr != nil {
		c.mu.Lock()
		if old := c.sizes[s.Target]; old != nil {
			sizes = old.bytes
		}
		c.mu.Unlock()
	}
	q, v14 := databaseQuery13, s.Facts.VersionNum >= 140000
	if v14 {
		q = databaseQuery14
	}
	rows, err := s.Conn.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			name   string
			n      [15]float64
			rt, wt float64
			reset  *float64
			sess   [7]float64
		)
		if err := rows.Scan(&name, &n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &n[6], &n[7], &n[8], &n[9], &n[10], &n[11],
			&n[12], &n[13], &n[14], &rt, &wt, &reset,
			&sess[0], &sess[1], &sess[2], &sess[3], &sess[4], &sess[5], &sess[6]); err != nil {
			return err
		}
		for i, m := range []*metric.Metric{dbNumBackends, dbXactCommit, dbXactRollback, dbBlksRead, dbBlksHit, dbTupReturned,
			dbTupFetched, dbTupInserted, dbTupUpdated, dbTupDeleted, dbConflicts, dbTempFiles, dbTempBytes, dbDeadlocks, dbChecksumFails} {
			m.Emit(ch, n[i], name)
		}
		dbBlkReadTime.Emit(ch, rt, name)
		dbBlkWriteTime.Emit(ch, wt, name)
		if reset != nil {
			dbStatsReset.Emit(ch, *reset, name)
		}
		if size, ok := sizes[name]; ok {
			dbSize.Emit(ch, size, name)
		}
		if v14 {
			for i, m := range []*metric.Metric{dbSessionTime, dbActiveTime, dbIdleInXact, dbSessions, dbAbandoned, dbFatal, dbKilled} {
				m.Emit(ch, sess[i], name)
			}
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if sizeErr != nil {
		return fmt.Errorf("reading database sizes (statistics reported, sizes from the last good read): %w", sizeErr)
	}
	return nil
}
