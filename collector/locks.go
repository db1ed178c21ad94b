package collector

import (
	"context"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

var (
	locksCount = metric.Gauge("pg_locks",
		"Heavyweight locks by lock type, mode and whether they are granted; relation locks in every mode are always present (0 when none). The scraping session's own locks are left out.",
		"pg_locks", "13+", "locktype", "mode", "granted")
	locksWaiting = metric.Gauge("pg_locks_waiting_sessions",
		"Processes waiting for a heavyweight lock (a process waits for one lock at a time).",
		"pg_locks", "13+")
	locksAdvisory = metric.Gauge("pg_locks_advisory_held",
		"Advisory locks held (granted).", "pg_locks", "13+")
	locksMaxWait = metric.Gauge("pg_locks_max_wait_duration_seconds",
		"The longest current wait for a heavyweight lock, 0 when nobody waits. On 14+ from pg_locks.waitstart; on 13 the run time of the waiting statement.",
		"pg_locks (14+), pg_stat_activity (13)", "13+")
	locksBlocked = metric.Gauge("pg_locks_blocked_sessions",
		"Sessions blocked by another session's lock (pg_blocking_pids is not empty).",
		"pg_stat_activity, pg_blocking_pids()", "13+")
	locksBlocking = metric.Gauge("pg_locks_blocking_sessions",
		"Distinct sessions that block at least one other session (prepared transactions in the way count as one, process 0).",
		"pg_stat_activity, pg_blocking_pids()", "13+")
)

func init() {
	Register(&Spec{
		Name:    "locks",
		Help:    "Locks by type, mode and granted; lock waits, blocked and blocking sessions, advisory locks, from pg_locks and pg_blocking_pids()",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{locksCount, locksWaiting, locksAdvisory, locksMaxWait, locksBlocked, locksBlocking},
		New:     func(Options) (Collector, error) { return locksCollector{}, nil },
	})
}

type locksCollector struct{}

var lockModes = []string{"AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock",
	"ShareLock", "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock"}

// waitstart came with 14; on 13 the wait column is NULL and the activity
// query gives the run time of waiting statements instead.
const (
	locksQuery13 = `SELECT locktype, COALESCE(mode, ''), granted, count(*)::float8, NULL::float8
 FROM pg_locks WHERE pid IS DISTINCT FROM pg_backend_pid() GROUP BY 1, 2, 3`
	locksQuery14 = `SELECT locktype, COALESCE(mode, ''), granted, count(*)::float8,
 max(GREATEST(EXTRACT(EPOCH FROM now() - waitstart), 0))::float8
 FROM pg_locks WHERE pid IS DISTINCT FROM pg_backend_pid() GROUP BY 1, 2, 3`
)

// pg_blocking_pids is asked only for sessions waiting on a lock: it takes the
// lock manager's partition locks, and everything else would give {} anyway.
const blockingQuery = `WITH b AS (
  SELECT query_start, CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) ELSE '{}'::int[] END AS blockers
  FROM pg_stat_activity)
 SELECT count(*) FILTER (WHERE cardinality(blockers) > 0)::float8,
 (SELECT count(DISTINCT p) FROM b, unnest(b.blockers) p)::float8,
 COALESCE(max(GREATEST(EXTRACT(EPOCH FROM now() - query_start), 0)) FILTER (WHERE cardinality(blockers) > 0), 0)::float8
 FROM b`

func (locksCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	q := locksQuery13
	if s.Facts.VersionNum >= 140000 {
		q = locksQuery14
	}
	rows, err := s.Conn.Query(ctx, q)
	if err != nil {
		return err
	}
	var waiting, advisory, maxWait float64
	// Relation locks in every mode, granted and waiting, are always reported
	// (0 when there are none), so a rule on, say, waiting AccessExclusiveLocks
	// has a series to look at.
	counts := map[[3]string]float64{}
	for _, mode := range lockModes {
		counts[[3]string{"relation", mode, "true"}] = 0
		counts[[3]string{"relation", mode, "false"}] = 0
	}
	for rows.Next() {
		var locktype, mode string
		var granted bool
		var n float64
		var wait *float64
		if err := rows.Scan(&locktype, &mode, &granted, &n, &wait); err != nil {
			rows.Close()
			return err
		}
		counts[[3]string{locktype, mode, strconv.FormatBool(granted)}] += n
		if !granted {
			waiting += n
		}
		if granted && locktype == "advisory" {
			advisory += n
		}
		if wait != nil {
			maxWait = max(maxWait, *wait)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for k, n := range counts {
		locksCount.Emit(ch, n, k[0], k[1], k[2])
	}
	var blocked, blocking, blockedFor float64
	if err := s.Conn.QueryRow(ctx, blockingQuery).Scan(&blocked, &blocking, &blockedFor); err != nil {
		return err
	}
	if s.Facts.VersionNum < 140000 {
		maxWait = blockedFor
	}
	locksWaiting.Emit(ch, waiting)
	locksAdvisory.Emit(ch, advisory)
	locksMaxWait.Emit(ch, maxWait)
	locksBlocked.Emit(ch, blocked)
	locksBlocking.Emit(ch, blocking)
	return nil
}
