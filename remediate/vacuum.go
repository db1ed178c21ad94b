package remediate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// vacuumParams are the parameters of the vacuum action.
type vacuumParams struct {
	// MinDeadTuples is re-checked before running: below it, the alert is stale.
	MinDeadTuples int64 `yaml:"min_dead_tuples"`
	// XminHolderAge: a transaction, prepared transaction or inactive slot
	// holding the xmin horizon for longer than this makes VACUUM pointless.
	XminHolderAge time.Duration `yaml:"xmin_holder_age"`
}

func (p *vacuumParams) validate() error {
	if p.MinDeadTuples == 0 {
		p.MinDeadTuples = 10000
	}
	if p.XminHolderAge == 0 {
		p.XminHolderAge = 10 * time.Minute
	}
	if p.MinDeadTuples < 0 || p.XminHolderAge < 0 {
		return errors.New("min_dead_tuples and xmin_holder_age must not be negative")
	}
	return nil
}

func init() {
	register(&actionSpec{name: "vacuum", params: func() actionParams { return &vacuumParams{} }, run: runVacuum})
}

// tableStats is a table's row of pg_stat_all_tables.
type tableStats struct {
	DeadTuples, ModsSinceAnalyze int64
	LastVacuum, LastAnalyze      time.Time // manual or automatic, whichever is later
	VacuumCount, AnalyzeCount    int64
}

const tableStatsSQL = `
SELECT coalesce(n_dead_tup, 0)::int8, coalesce(n_mod_since_analyze, 0)::int8,
       greatest(last_vacuum, last_autovacuum), greatest(last_analyze, last_autoanalyze),
       (coalesce(vacuum_count, 0) + coalesce(autovacuum_count, 0))::int8,
       (coalesce(analyze_count, 0) + coalesce(autoanalyze_count, 0))::int8
FROM pg_stat_all_tables WHERE relid = $1`

func readTableStats(ctx context.Context, conn *pgx.Conn, oid uint32) (*tableStats, error) {
	var s tableStats
	var lv, la *time.Time
	err := conn.QueryRow(ctx, tableStatsSQL, oid).Scan(&s.DeadTuples, &s.ModsSinceAnalyze, &lv, &la, &s.VacuumCount, &s.AnalyzeCount)
	if errors.Is(err, pgx.ErrNoRows) {
		return &s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading pg_stat_all_tables: %w", err)
	}
	if lv != nil {
		s.LastVacuum = *lv
	}
	if la != nil {
		s.LastAnalyze = *la
	}
	return &s, nil
}

// xminHolderSQL finds what holds the xmin horizon back for longer than $1
// seconds: a session's snapshot or transaction, a prepared transaction, an
// inactive replication slot. %s limits sessions to the current database
// where the server computes horizons per database (14 and later).
const xminHolderSQL = `
SELECT what, age FROM (
  SELECT 'session pid ' || pid || ' (' || coalesce(usename, '?') || ', ' || coalesce(state, backend_type) || ')' AS what,
         extract(epoch FROM now() - xact_start)::float8 AS age
  FROM pg_stat_activity
  WHERE pid <> pg_backend_pid() AND (backend_xmin IS NOT NULL OR backend_xid IS NOT NULL)
    AND xact_start < now() - make_interval(secs => $1) %s
  UNION ALL
  SELECT 'prepared transaction ' || quote_literal(gid), extract(epoch FROM now() - prepared)::float8
  FROM pg_prepared_xacts WHERE prepared < now() - make_interval(secs => $1)
  UNION ALL
  SELECT 'inactive replication slot ' || quote_literal(slot_name), 0
  FROM pg_replication_slots WHERE NOT active AND xmin IS NOT NULL
) h ORDER BY age DESC LIMIT 1`

func xminHolder(ctx context.Context, conn *pgx.Conn, minAge time.Duration) (string, error) {
	sameDB := ""
	if serverMajor(conn) >= 14 {
		sameDB = "AND (datname = current_database() OR backend_type <> 'client backend')"
	}
	var what string
	var age float64
	err := conn.QueryRow(ctx, fmt.Sprintf(xminHolderSQL, sameDB), minAge.Seconds()).Scan(&what, &age)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("looking for xmin horizon holders: %w", err)
	}
	if age > 0 {
		what += fmt.Sprintf(", %s old", (time.Duration(age) * time.Second).Round(time.Second))
	}
	return what, nil
}

func runVacuum(ctx context.Context, ex *execution) outcome {
	p := ex.params().(*vacuumParams)
	conn, rel, o := ex.resolveRelation(ctx, "relname", "rm", "vacuum")
	if o != nil {
		return *o
	}
	defer closeConn(conn)
	obj := ex.rec.Object
	var before int64
	check := func() (string, *outcome) {
		st, err := readTableStats(ctx, conn, rel.OID)
		if err != nil {
			return "", ptr(failed(err))
		}
		before = st.VacuumCount
		if cool, why := ex.coolingDown(obj, st.LastVacuum); cool {
			return "", ptr(skipped("%s", why))
		}
		if st.DeadTuples < p.MinDeadTuples {
			return "", ptr(skipped("condition no longer holds: %d dead tuples, threshold %d", st.DeadTuples, p.MinDeadTuples))
		}
		holder, err := xminHolder(ctx, conn, p.XminHolderAge)
		if err != nil {
			return "", ptr(failed(err))
		}
		if holder != "" {
			return "", ptr(skipped("VACUUM could not remove the dead tuples: the xmin horizon is held back by %s; end that first", holder))
		}
		ex.rec.Detail = fmt.Sprintf("%d dead tuples before", st.DeadTuples)
		return "VACUUM (ANALYZE, SKIP_LOCKED) " + rel.quoted(), nil
	}
	visible := func() bool {
		st, err := readTableStats(ctx, conn, rel.OID)
		return err == nil && st.VacuumCount > before
	}
	return ex.guarded(ctx, conn, obj, check, visible)
}

func ptr(o outcome) *outcome { return &o }

// guarded runs the statement check returns on obj: in enforce mode under
// the advisory lock, taken before the re-check so that a second receiver
// re-checks only after the first one's run is visible; in dry-run mode it
// only reports. visible, when set, tells when the statistics show the run
// (PostgreSQL 13 and 14 publish them with a delay); the lock is held until
// then, for a few seconds at most.
func (ex *execution) guarded(ctx context.Context, conn *pgx.Conn, obj string, check func() (string, *outcome), visible func() bool) outcome {
	if !ex.dryRun {
		ok, err := ex.tryLock(ctx, conn, obj)
		if err != nil {
			return failed(err)
		}
		if !ok {
			return skipped("another receiver holds the lock for %s on %s", ex.action(), obj)
		}
	}
	stmt, o := check()
	if o != nil {
		return *o
	}
	ex.rec.Statement = stmt
	if ex.dryRun {
		ex.noteRun(obj)
		return outcome{result: ResultDryRun, reason: "all checks passed; enforce mode would run the statement"}
	}
	if o := ex.started(); o != nil {
		return *o
	}
	ex.takeNotices()
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return failed(fmt.Errorf("%s: %w", stmt, err))
	}
	ex.noteRun(obj)
	for _, n := range ex.takeNotices() {
		if strings.Contains(n, "skipping") {
			return skipped("%s", n)
		}
	}
	if visible != nil {
		for deadline := time.Now().Add(5 * time.Second); !visible() && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
		}
	}
	return ran("")
}
