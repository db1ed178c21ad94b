package collector

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

// Meta-metrics of custom queries, one series per query (and database, for
// queries that run on several).
var (
	customSuccess = metric.Gauge("pg_custom_query_success",
		"1 if the custom query ran and all its rows converted, 0 if it failed; datname is empty for queries on the connection string's database.",
		"queries.yaml", "all", "query", "datname")
	customDuration = metric.Gauge("pg_custom_query_duration_seconds",
		"Time the custom query (with its predicates) took on this scrape.",
		"queries.yaml", "all", "query", "datname")
	customRows = metric.Gauge("pg_custom_query_rows",
		"Rows the custom query returned on this scrape (at most the row limit of 10000).",
		"queries.yaml", "all", "query", "datname")
	customErrors = metric.Counter("pg_custom_query_errors_total",
		"Failed runs of the custom query by reason: sql (the query or a predicate failed), timeout, columns (a listed column is missing), value (NULL, non-numeric or duplicate rows), row_limit (more than 10000 rows; the rest were dropped).",
		"queries.yaml", "all", "query", "datname", "reason")
)

// CustomQueryMetrics are the meta-metric families of custom queries, for
// docs/metrics.md.
func CustomQueryMetrics() []*metric.Metric {
	return []*metric.Metric{customSuccess, customDuration, customRows, customErrors}
}

// CustomInstances loads queries.yaml files and makes one collector instance
// per query, for the Scraper to run beside the built-in collectors (enabled)
// and the exporter's other families (served).
func CustomInstances(sources []CustomSource, enabled []string, served []Served) ([]*Instance, error) {
	qs, err := LoadCustomQueries(sources, enabled, served...)
	if err != nil {
		return nil, err
	}
	out := make([]*Instance, 0, len(qs))
	for _, q := range qs {
		out = append(out, q.Instance())
	}
	return out, nil
}

// Instance wraps the query as a collector instance.
func (q *CustomQuery) Instance() *Instance {
	spec := &Spec{
		Name:       "custom." + q.Name,
		Help:       fmt.Sprintf("custom query %s from %s:%d", q.Name, q.File, q.Line),
		Scope:      q.Scope(),
		MinVersion: q.minVersion,
		MaxVersion: q.maxVersion,
		TTL:        q.ttl,
	}
	return &Instance{Spec: spec, Collector: &customCollector{q: q, errors: map[[2]string]float64{}}, TTL: q.ttl}
}

type customCollector struct {
	q *CustomQuery

	mu     sync.Mutex
	errors map[[2]string]float64 // (datname, reason) -> failed runs
}

// customError carries the reason label of a failed run.
type customError struct {
	reason string
	err    error
}

func (e *customError) Error() string { return e.err.Error() }
func (e *customError) Unwrap() error { return e.err }

func failed(reason string, format string, args ...any) error {
	return &customError{reason: reason, err: fmt.Errorf(format, args...)}
}

func (c *customCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	q := c.q
	if q.primaryOnly && s.Facts.InRecovery || q.replicaOnly && !s.Facts.InRecovery {
		return ErrNotApplicable
	}
	if q.dbMode == dbList && !slices.Contains(q.dbList, s.Database) {
		return ErrNotApplicable
	}
	datname := ""
	if q.Scope() == Database {
		datname = s.Database
	}
	begin := time.Now()
	qctx := ctx
	if q.timeout > 0 {
		var cancel context.CancelFunc
		qctx, cancel = context.WithTimeout(ctx, q.timeout)
		defer cancel()
	}
	ran, metrics, rows, err := c.run(qctx, s)
	if err != nil && qctx.Err() != nil && ctx.Err() == nil {
		err = failed("timeout", "custom query %s: timed out after %s (its timeout): %w", q.Name, q.timeout, err)
	}
	if !ran && err == nil {
		return ErrNotApplicable
	}
	for _, m := range metrics {
		ch <- m
	}
	ok := 1.0
	if err != nil {
		ok = 0
		reason := "sql"
		var ce *customError
		if errors.As(err, &ce) {
			reason = ce.reason
		}
		c.mu.Lock()
		c.errors[[2]string{datname, reason}]++
		c.mu.Unlock()
	}
	customSuccess.Emit(ch, ok, q.Name, datname)
	customDuration.Emit(ch, time.Since(begin).Seconds(), q.Name, datname)
	customRows.Emit(ch, float64(rows), q.Name, datname)
	c.mu.Lock()
	for k, n := range c.errors {
		if k[0] == datname {
			customErrors.Emit(ch, n, q.Name, datname, k[1])
		}
	}
	c.mu.Unlock()
	return err
}

// readOnly is how every custom query and predicate runs, whatever its text
// says: in a transaction the exporter begins READ ONLY (so the server refuses
// writes, and SET TRANSACTION READ WRITE once the first query ran) and ends
// with COMMIT, RESET ALL and RESET ROLE (so session settings and the role
// the text changed, set_config(..., false) included, are undone; see run), through the
// extended protocol, which takes exactly
// one statement. The loader refuses several statements with the file's line;
// this is what holds if one got past it.
var readOnly = pgx.TxOptions{AccessMode: pgx.ReadOnly}

// endReadOnly ends a custom query's transaction in one round trip (pgx sends
// a statement without arguments in the simple protocol, which takes both).
// In a transaction that failed, COMMIT ends it as a rollback and RESET ALL
// still runs. RESET ALL leaves the role alone (PostgreSQL marks it so), so
// RESET ROLE follows: the next queries run as the role the exporter logged
// in as (or the one its connection options set).
const endReadOnly = "COMMIT; RESET ALL; RESET ROLE"

// beginWithPredicate begins the read-only transaction and runs the first
// predicate in one round trip: both go in one pipeline through the extended
// protocol, which takes exactly one statement each (pgx's batches would join
// them into one simple-protocol text, which takes several). beginErr is
// BEGIN's failure; err is the predicate's, with QueryRow's meaning: no row,
// or a first row that is not one boolean, is an error. Rows after the first
// are read and dropped.
func beginWithPredicate(ctx context.Context, conn *pgx.Conn, predicate string) (ok *bool, beginErr, err error) {
	b := &pgconn.Batch{}
	b.ExecParams("BEGIN READ ONLY", nil, nil, nil, nil)
	b.ExecParams(predicate, nil, nil, nil, nil)
	mrr := conn.PgConn().ExecBatch(ctx, b)
	defer func() {
		if cerr := mrr.Close(); cerr != nil && beginErr == nil && err == nil {
			err = cerr
		}
	}()
	if !mrr.NextResult() {
		if beginErr = mrr.Close(); beginErr == nil {
			beginErr = errors.New("the server sent no answer to BEGIN")
		}
		return nil, beginErr, nil
	}
	if _, beginErr = mrr.ResultReader().Close(); beginErr != nil {
		return nil, beginErr, nil
	}
	if !mrr.NextResult() {
		if err = mrr.Close(); err == nil {
			err = errors.New("the server sent no answer to the predicate")
		}
		return nil, nil, err
	}
	rr := mrr.ResultReader()
	fds := rr.FieldDescriptions()
	seen := false
	for rr.NextRow() {
		if seen {
			continue
		}
		seen = true
		if len(fds) != 1 {
			err = fmt.Errorf("%d columns", len(fds))
			continue
		}
		err = conn.TypeMap().Scan(fds[0].DataTypeOID, fds[0].Format, rr.Values()[0], &ok)
	}
	if _, cerr := rr.Close(); cerr != nil {
		return nil, nil, cerr
	}
	if !seen {
		return nil, nil, pgx.ErrNoRows
	}
	return ok, nil, err
}

// run checks the predicates and runs the query. ran is false when a predicate
// says the query does not apply here.
func (c *customCollector) run(ctx context.Context, s *Scrape) (ran bool, out []prometheus.Metric, nrows int, err error) {
	q := c.q
	preds := q.predicates
	var first *bool
	if len(preds) > 0 {
		var beginErr error
		first, beginErr, err = beginWithPredicate(ctx, s.Conn.Conn, preds[0])
		if beginErr != nil {
			return true, nil, 0, fmt.Errorf("custom query %s: cannot begin its read-only transaction: %w", q.Name, beginErr)
		}
	} else if _, err := s.Conn.BeginTx(ctx, readOnly); err != nil {
		return true, nil, 0, fmt.Errorf("custom query %s: cannot begin its read-only transaction: %w", q.Name, err)
	}
	// Runs after rows.Close below. The transaction ends in COMMIT, not
	// ROLLBACK: it cannot have written anything, and every rollback counts in
	// pg_stat_database.xact_rollback, where the exporter's own queries would
	// raise the rollback ratio it alerts on. RESET ALL then undoes session
	// settings the text changed (set_config(..., false) included); the
	// exporter's own settings come from the startup message, which RESET ALL
	// returns to. A commit or reset that fails (the deadline passed) leaves
	// the session in a transaction or changed, and the pool drops it.
	defer func() { _, _ = s.Conn.Exec(ctx, endReadOnly) }()
	for i, p := range preds {
		ok := first
		if i > 0 {
			err = s.Conn.QueryRow(ctx, p, pgx.QueryExecModeExec).Scan(&ok)
		}
		if err != nil {
			return false, nil, 0, fmt.Errorf("custom query %s: predicate %q: %w; a predicate must return one row with one boolean", q.Name, abbreviate(p), err)
		}
		if ok == nil || !*ok {
			return false, nil, 0, nil
		}
	}
	rows, err := s.Conn.Query(ctx, q.SQL, pgx.QueryExecModeExec)
	if err == nil && len(rows.FieldDescriptions()) == 0 {
		// The extended protocol reports a statement's failure when its
		// result is read: read it before blaming the columns.
		rows.Close()
		err = rows.Err()
	}
	if err != nil {
		return true, nil, 0, fmt.Errorf("custom query %s (%s:%d): %w", q.Name, q.File, q.Line, err)
	}
	defer rows.Close()
	idx := map[string]int{}
	var names []string
	for i, fd := range rows.FieldDescriptions() {
		idx[fd.Name] = i
		names = append(names, fd.Name)
	}
	version := s.Facts.VersionNum
	var cols []*customColumn
	applies := map[*customColumn]bool{}
	for _, col := range q.columns {
		if col.minVersion > 0 && version < col.minVersion || col.maxVersion > 0 && version >= col.maxVersion {
			continue
		}
		for _, need := range col.needs() {
			if _, ok := idx[need]; !ok {
				return true, nil, 0, failed("columns", "custom query %s (%s:%d): column %q listed under metrics is not in the result (%s); fix the column name or alias it in the query",
					q.Name, q.File, col.line, need, strings.Join(names, ", "))
			}
		}
		cols = append(cols, col)
		applies[col] = true
	}
	seen := map[string]int{}
	var limitErr error
	for rows.Next() {
		if nrows == CustomRowLimit {
			limitErr = failed("row_limit", "custom query %s (%s:%d): more than %d rows; the rest were dropped; aggregate in SQL or add a LIMIT", q.Name, q.File, q.Line, CustomRowLimit)
			break
		}
		nrows++
		vals, err := rows.Values()
		if err != nil {
			return true, nil, nrows, fmt.Errorf("custom query %s: row %d: %w", q.Name, nrows, err)
		}
		labels := make([]string, 0, len(q.labels))
		for _, col := range q.columns {
			if col.usage != usageLabel {
				continue
			}
			if !applies[col] {
				labels = append(labels, "") // left out on this server version by its pg_version
				continue
			}
			l, err := labelValue(vals[idx[col.name]])
			if err != nil {
				return true, nil, nrows, failed("value", "custom query %s: row %d, label column %s: %v", q.Name, nrows, col.name, err)
			}
			labels = append(labels, l)
		}
		if q.addDatname {
			labels = append(labels, s.Database)
		}
		key := strings.Join(labels, "\xff")
		if first, dup := seen[key]; dup {
			return true, nil, nrows, failed("value", "custom query %s: rows %d and %d have the same label values (%s); add the column that tells them apart as a LABEL, or aggregate in SQL",
				q.Name, first, nrows, strings.Join(labels, ", "))
		}
		seen[key] = nrows
		for _, col := range cols {
			m, err := col.metricFor(vals, idx, labels)
			if err != nil {
				return true, nil, nrows, failed("value", "custom query %s: row %d, column %s: %v", q.Name, nrows, col.name, err)
			}
			if m != nil {
				out = append(out, m)
			}
		}
	}
	if limitErr != nil {
		return true, out, nrows, limitErr
	}
	if err := rows.Err(); err != nil {
		return true, nil, nrows, fmt.Errorf("custom query %s (%s:%d): %w", q.Name, q.File, q.Line, err)
	}
	return true, out, nrows, nil
}

func (col *customColumn) metricFor(vals []any, idx map[string]int, labels []string) (prometheus.Metric, error) {
	v := vals[idx[col.name]]
	switch col.usage {
	case usageLabel, usageDiscard:
		return nil, nil
	case usageGauge, usageCounter:
		f, err := floatValue(v)
		if err != nil {
			return nil, err
		}
		t := prometheus.GaugeValue
		if col.usage == usageCounter {
			t = prometheus.CounterValue
		}
		return prometheus.NewConstMetric(col.desc, t, f, labels...)
	case usageDuration:
		f, err := durationMillis(v)
		if err != nil {
			return nil, err
		}
		return prometheus.NewConstMetric(col.desc, prometheus.GaugeValue, f, labels...)
	case usageMapped:
		text, err := labelValue(v)
		if err != nil {
			return nil, err
		}
		f, ok := col.mapping[text]
		if !ok {
			return nil, fmt.Errorf("value %q is not in metric_mapping; add it there", text)
		}
		return prometheus.NewConstMetric(col.desc, prometheus.GaugeValue, f, labels...)
	case usageHistogram:
		return col.histogram(vals, idx, labels)
	}
	return nil, nil
}

func (col *customColumn) histogram(vals []any, idx map[string]int, labels []string) (prometheus.Metric, error) {
	les, ok1 := vals[idx[col.name]].([]any)
	counts, ok2 := vals[idx[col.name+"_bucket"]].([]any)
	if !ok1 || !ok2 {
		return nil, fmt.Errorf("a HISTOGRAM needs arrays in %s (upper bounds) and %s_bucket (cumulative counts)", col.name, col.name)
	}
	if len(les) != len(counts) {
		return nil, fmt.Errorf("%s has %d bounds but %s_bucket has %d counts", col.name, len(les), col.name, len(counts))
	}
	sum, err := floatValue(vals[idx[col.name+"_sum"]])
	if err != nil {
		return nil, fmt.Errorf("%s_sum: %v", col.name, err)
	}
	count, err := floatValue(vals[idx[col.name+"_count"]])
	if err != nil {
		return nil, fmt.Errorf("%s_count: %v", col.name, err)
	}
	buckets := make(map[float64]uint64, len(les))
	for i := range les {
		le, err := floatValue(les[i])
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %v", col.name, i+1, err)
		}
		n, err := floatValue(counts[i])
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%s_bucket[%d]: not a count", col.name, i+1)
		}
		buckets[le] = uint64(n)
	}
	if count < 0 {
		return nil, fmt.Errorf("%s_count is negative", col.name)
	}
	return prometheus.NewConstHistogram(col.desc, uint64(count), sum, buckets, labels...)
}

var errNull = errors.New("is NULL; wrap it in COALESCE(..., 0) or filter such rows out")

// floatValue converts what pgx decoded to a sample value.
func floatValue(v any) (float64, error) {
	switch x := v.(type) {
	case nil:
		return 0, errNull
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case int16:
		return float64(x), nil
	case int8:
		return float64(x), nil
	case int:
		return float64(x), nil
	case uint32:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case time.Time:
		return float64(x.UnixNano()) / 1e9, nil
	case pgtype.InfinityModifier:
		if x == pgtype.Infinity {
			return math.Inf(1), nil
		}
		return math.Inf(-1), nil
	case pgtype.Numeric:
		f, err := x.Float64Value()
		if err != nil {
			return 0, err
		}
		if !f.Valid {
			return 0, errNull
		}
		return f.Float64, nil
	case pgtype.Interval:
		if !x.Valid {
			return 0, errNull
		}
		return float64(x.Microseconds)/1e6 + float64(x.Days)*86400 + float64(x.Months)*30*86400, nil
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, fmt.Errorf("is text %q, not a number; cast it in SQL (::float8) or make it a LABEL", abbreviate(x))
		}
		return f, nil
	case []any:
		return 0, errors.New("is an array; only HISTOGRAM columns may be arrays")
	}
	return 0, fmt.Errorf("has type %T, which is not a number; cast it in SQL (::float8)", v)
}

// durationMillis reads a DURATION column (a Go duration string such as
// "1h2m", or an interval) as milliseconds, as postgres_exporter does.
func durationMillis(v any) (float64, error) {
	switch x := v.(type) {
	case string:
		d, err := time.ParseDuration(strings.TrimSpace(x))
		if err != nil {
			return 0, fmt.Errorf("is %q, not a duration such as 1h2m3s; return an interval or a duration text", abbreviate(x))
		}
		return float64(d) / float64(time.Millisecond), nil
	case pgtype.Interval:
		f, err := floatValue(x)
		return f * 1000, err
	}
	f, err := floatValue(v)
	return f, err
}

// labelValue converts what pgx decoded to a label value; NULL is "".
func labelValue(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		if !utf8.ValidString(x) {
			return "", errors.New("is not valid UTF-8")
		}
		return x, nil
	case []byte:
		if !utf8.Valid(x) {
			return "", errors.New("is not valid UTF-8")
		}
		return string(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case time.Time:
		return strconv.FormatInt(x.Unix(), 10), nil
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), nil
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), nil
	case pgtype.Numeric:
		d, err := x.Value()
		if err != nil {
			return "", err
		}
		return fmt.Sprint(d), nil
	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16]), nil
	case []any:
		return "", errors.New("is an array; a label needs a single value")
	case fmt.Stringer:
		return x.String(), nil
	}
	return fmt.Sprint(v), nil
}

func abbreviate(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}
