package collector

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exposition"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const srcStatements = "pg_stat_statements"

var (
	stmtLabels  = []string{"datname", "usename"}
	topLabels   = []string{"datname", "usename", "queryid"}
	stmtDur     = metric.Histogram("pg_statement_duration_seconds", "Statement execution time per call, from the mean of each statement over each scrape interval weighted by its calls (see docs/statement-latency.md).", srcStatements, "13+", StatementBuckets, "datname")
	stmtEntries = metric.Gauge("pg_stat_statements_entries", "Statements pg_stat_statements currently tracks (top-level only).", srcStatements, "13+")
	stmtDealloc = metric.Counter("pg_stat_statements_dealloc_total", "Times pg_stat_statements evicted its least-used entries to make room (raise pg_stat_statements.max if it grows).", "pg_stat_statements_info", "14+")
	stmtReset   = metric.Gauge("pg_stat_statements_stats_reset_timestamp_seconds", "When all of pg_stat_statements was last reset.", "pg_stat_statements_info", "14+")

	// Totals per database and user, accumulated from deltas so they stay
	// monotonic when entries are evicted or reset.
	stmtTotals = [stNum]*metric.Metric{
		stCalls:         metric.Counter("pg_stat_statements_calls_total", "Statement executions.", srcStatements, "13+", stmtLabels...),
		stExecTime:      metric.Counter("pg_stat_statements_exec_time_seconds_total", "Time spent executing statements.", srcStatements, "13+", stmtLabels...),
		stPlanTime:      metric.Counter("pg_stat_statements_plan_time_seconds_total", "Time spent planning statements (needs pg_stat_statements.track_planning).", srcStatements, "13+", stmtLabels...),
		stRows:          metric.Counter("pg_stat_statements_rows_total", "Rows retrieved or affected by statements.", srcStatements, "13+", stmtLabels...),
		stSharedHit:     metric.Counter("pg_stat_statements_shared_blks_hit_total", "Shared buffer hits.", srcStatements, "13+", stmtLabels...),
		stSharedRead:    metric.Counter("pg_stat_statements_shared_blks_read_total", "Shared blocks read (missed shared buffers).", srcStatements, "13+", stmtLabels...),
		stSharedDirtied: metric.Counter("pg_stat_statements_shared_blks_dirtied_total", "Shared blocks dirtied.", srcStatements, "13+", stmtLabels...),
		stSharedWritten: metric.Counter("pg_stat_statements_shared_blks_written_total", "Shared blocks written by backends.", srcStatements, "13+", stmtLabels...),
		stLocalHit:      metric.Counter("pg_stat_statements_local_blks_hit_total", "Local (temporary table) buffer hits.", srcStatements, "13+", stmtLabels...),
		stLocalRead:     metric.Counter("pg_stat_statements_local_blks_read_total", "Local blocks read.", srcStatements, "13+", stmtLabels...),
		stLocalDirtied:  metric.Counter("pg_stat_statements_local_blks_dirtied_total", "Local blocks dirtied.", srcStatements, "13+", stmtLabels...),
		stLocalWritten:  metric.Counter("pg_stat_statements_local_blks_written_total", "Local blocks written.", srcStatements, "13+", stmtLabels...),
		stTempRead:      metric.Counter("pg_stat_statements_temp_blks_read_total", "Temporary file blocks read.", srcStatements, "13+", stmtLabels...),
		stTempWritten:   metric.Counter("pg_stat_statements_temp_blks_written_total", "Temporary file blocks written.", srcStatements, "13+", stmtLabels...),
		stBlkReadTime:   metric.Counter("pg_stat_statements_blk_read_time_seconds_total", "Time reading shared and local blocks (needs track_io_timing; blk_read_time before 17, shared_ plus local_blk_read_time from 17).", srcStatements, "13+", stmtLabels...),
		stBlkWriteTime:  metric.Counter("pg_stat_statements_blk_write_time_seconds_total", "Time writing shared and local blocks (needs track_io_timing).", srcStatements, "13+", stmtLabels...),
		stWALRecords:    metric.Counter("pg_stat_statements_wal_records_total", "WAL records generated.", srcStatements, "13+", stmtLabels...),
		stWALFPI:        metric.Counter("pg_stat_statements_wal_fpi_total", "WAL full page images generated.", srcStatements, "13+", stmtLabels...),
		stWALBytes:      metric.Counter("pg_stat_statements_wal_bytes_total", "WAL generated.", srcStatements, "13+", stmtLabels...),
	}

	// The top statements by total execution time, as pg_stat_statements has
	// them (they restart from zero when the entry is reset or evicted).
	topCalls    = metric.Counter("pg_stat_statements_top_calls_total", "Executions of one of the top statements by total execution time.", srcStatements, "13+", topLabels...)
	topExec     = metric.Counter("pg_stat_statements_top_exec_time_seconds_total", "Execution time of one of the top statements.", srcStatements, "13+", topLabels...)
	topPlan     = metric.Counter("pg_stat_statements_top_plan_time_seconds_total", "Planning time of one of the top statements.", srcStatements, "13+", topLabels...)
	topRows     = metric.Counter("pg_stat_statements_top_rows_total", "Rows retrieved or affected by one of the top statements.", srcStatements, "13+", topLabels...)
	topRead     = metric.Counter("pg_stat_statements_top_shared_blks_read_total", "Shared blocks read by one of the top statements.", srcStatements, "13+", topLabels...)
	topHit      = metric.Counter("pg_stat_statements_top_shared_blks_hit_total", "Shared buffer hits of one of the top statements.", srcStatements, "13+", topLabels...)
	topTemp     = metric.Counter("pg_stat_statements_top_temp_blks_written_total", "Temporary file blocks written by one of the top statements.", srcStatements, "13+", topLabels...)
	topBlock    = []*metric.Metric{topCalls, topExec, topPlan, topRows, topRead, topHit, topTemp}
	topShape    = exposition.NewShape(topLabels...)
	topText     = metric.Gauge("pg_stat_statements_query_info", "Always 1; the shortened text of a top statement (only with objects.statements.query_text).", srcStatements, "13+", "datname", "usename", "queryid", "query")
	stmtMetrics = append(append([]*metric.Metric{stmtDur, stmtEntries, stmtDealloc, stmtReset}, stmtTotals[:]...),
		topCalls, topExec, topPlan, topRows, topRead, topHit, topTemp, topText)
)

func init() {
	Register(&Spec{
		Name: "statements",
		Help: "Statement totals per database and user, top statements and a latency histogram from pg_stat_statements (needs the extension in the target's database)",
		// The view is cluster-wide; it is read once per scrape on the target's
		// own database, which must have the extension.
		Scope:     Cluster,
		Default:   true,
		Extension: "pg_stat_statements",
		Metrics:   stmtMetrics,
		New: func(o Options) (Collector, error) {
			return &statementsCollector{limits: o.Config.Objects.Statements}, nil
		},
	})
}

type statementsCollector struct {
	limits config.StatementsLimits
	states stmtStates
}

// statementsSQL builds the query for an extension version (minor of 1.x).
// pg_stat_statements(false) never reads the query text file.
func statementsSQL(minor int) string {
	readTime, writeTime := "s.blk_read_time", "s.blk_write_time"
	since, where := "0::float8, false", ""
	if minor >= 11 {
		readTime = "(s.shared_blk_read_time + s.local_blk_read_time)"
		writeTime = "(s.shared_blk_write_time + s.local_blk_write_time)"
		since = "EXTRACT(EPOCH FROM s.stats_since)::float8, true"
	}
	if minor >= 9 {
		where = " WHERE s.toplevel"
	}
	return `SELECT s.dbid::int8, s.userid::int8, COALESCE(s.queryid, 0), d.datname, COALESCE(r.rolname, s.userid::text),
 s.calls::float8, s.total_exec_time / 1000, s.total_plan_time / 1000, s.rows::float8,
 s.shared_blks_hit::float8, s.shared_blks_read::float8, s.shared_blks_dirtied::float8, s.shared_blks_written::float8,
 s.local_blks_hit::float8, s.local_blks_read::float8, s.local_blks_dirtied::float8, s.local_blks_written::float8,
 s.temp_blks_read::float8, s.temp_blks_written::float8, ` + readTime + ` / 1000, ` + writeTime + ` / 1000,
 s.wal_records::float8, s.wal_fpi::float8, s.wal_bytes::float8, ` + since + `
 FROM pg_stat_statements(false) s JOIN pg_database d ON d.oid = s.dbid LEFT JOIN pg_roles r ON r.oid = s.userid` + where
}

const statementsInfoSQL = `SELECT dealloc::float8, COALESCE(EXTRACT(EPOCH FROM stats_reset), 0)::float8 FROM pg_stat_statements_info`

// extMinor returns x of "1.x".
func extMinor(version string) (int, error) {
	major, minor, ok := strings.Cut(version, ".")
	if !ok || major != "1" {
		return 0, fmt.Errorf("unexpected pg_stat_statements version %q", version)
	}
	return strconv.Atoi(minor)
}

func (c *statementsCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	minor, err := extMinor(s.Extensions["pg_stat_statements"])
	if err != nil {
		return err
	}
	if minor < 8 {
		return fmt.Errorf("pg_stat_statements %s is older than 1.8 (PostgreSQL 13); run ALTER EXTENSION pg_stat_statements UPDATE", s.Extensions["pg_stat_statements"])
	}
	st := c.states.get(s.Target.Name)
	if err := st.Acquire(ctx); err != nil {
		return err
	}
	defer st.Release()

	var info StmtInfo
	if minor >= 9 {
		info.Known = true
		if err := s.Conn.QueryRow(ctx, statementsInfoSQL).Scan(&info.Dealloc, &info.Reset); err != nil {
			return fmt.Errorf("reading pg_stat_statements_info: %w", err)
		}
	}
	rows, err := s.Conn.Query(ctx, statementsSQL(minor))
	if err != nil {
		return fmt.Errorf("reading pg_stat_statements: %w", err)
	}
	// One row to scan into, copied out; about as many entries as last time.
	snap := make([]StmtRow, 0, st.Len())
	var r StmtRow
	var dbid, userid int64
	dest := []any{&dbid, &userid, &r.Key.QueryID, &r.Datname, &r.Usename}
	for i := range r.C {
		dest = append(dest, &r.C[i])
	}
	dest = append(dest, &r.Since, &r.hasSince)
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return err
		}
		r.Key.DBID, r.Key.UserID = uint32(dbid), uint32(userid)
		snap = append(snap, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading pg_stat_statements: %w", err)
	}
	st.Apply(snap, info)

	stmtEntries.Emit(ch, float64(len(snap)))
	if info.Known {
		stmtDealloc.Emit(ch, info.Dealloc)
		if info.Reset > 0 {
			stmtReset.Emit(ch, info.Reset)
		}
	}
	for db, h := range st.Hist {
		cum, count := h.Cumulative()
		n := metric.Native{Schema: NativeSchema, ZeroThreshold: NativeZeroThreshold, ZeroCount: h.Zero, Positive: h.Native}
		if h.Slowest.Calls > 0 {
			// The statement with the slowest mean in this interval.
			n.Exemplars = []prometheus.Exemplar{{
				Value:  h.Slowest.Mean,
				Labels: prometheus.Labels{"queryid": strconv.FormatInt(h.Slowest.QueryID, 10)},
			}}
		}
		stmtDur.EmitHistogramNative(ch, count, h.Sum, cum, n, db)
	}
	for du, tot := range st.Totals {
		for i, m := range stmtTotals {
			m.Emit(ch, tot[i], du.datname, du.usename)
		}
	}

	// The top N by total execution time.
	n := c.limits.TopN
	if n > len(snap) {
		n = len(snap)
	}
	sort.Slice(snap, func(i, j int) bool { return snap[i].C[stExecTime] > snap[j].C[stExecTime] })
	top := snap[:n]
	b := exposition.NewBlock(topShape, topBlock...)
	b.Grow(len(top))
	for i := range top {
		r := &top[i]
		l := st.labels.Get(r.Key, r.Datname, r.Usename, strconv.FormatInt(r.Key.QueryID, 10))
		b.Add(l, r.C[stCalls], r.C[stExecTime], r.C[stPlanTime], r.C[stRows], r.C[stSharedRead], r.C[stSharedHit], r.C[stTempWritten])
	}
	st.labels.Done()
	ch <- b
	if c.limits.QueryText && len(top) > 0 {
		return c.emitText(ctx, s, top, minor, ch)
	}
	return nil
}

// emitText reads the text of the top statements (one read of the query file).
func (c *statementsCollector) emitText(ctx context.Context, s *Scrape, top []StmtRow, minor int, ch chan<- prometheus.Metric) error {
	ids := make([]string, 0, len(top))
	want := map[StmtKey]*StmtRow{}
	for i := range top {
		ids = append(ids, strconv.FormatInt(top[i].Key.QueryID, 10))
		want[top[i].Key] = &top[i]
	}
	where := ""
	if minor >= 9 {
		where = " AND s.toplevel"
	}
	q := fmt.Sprintf(`SELECT s.dbid::int8, s.userid::int8, COALESCE(s.queryid, 0), left(regexp_replace(s.query, '\s+', ' ', 'g'), %d)
 FROM pg_stat_statements(true) s WHERE s.queryid = ANY('{%s}'::int8[])%s`, c.limits.QueryTextLength, strings.Join(ids, ","), where)
	rows, err := s.Conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("reading statement texts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var dbid, userid int64
		var k StmtKey
		var text string
		if err := rows.Scan(&dbid, &userid, &k.QueryID, &text); err != nil {
			return err
		}
		k.DBID, k.UserID = uint32(dbid), uint32(userid)
		if r := want[k]; r != nil {
			topText.Emit(ch, 1, r.Datname, r.Usename, strconv.FormatInt(k.QueryID, 10), text)
			delete(want, k)
		}
	}
	return rows.Err()
}
