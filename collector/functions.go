package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/metric"
)

const srcFunctions = "pg_stat_user_functions"

func functionCounter(name, help string) *metric.Metric {
	return metric.Counter(name, help+" The functions with the most total time, up to objects.functions.top_n per database, have their own series; the rest are added up in the series with empty schemaname and funcname.",
		srcFunctions, "13+", "datname", "schemaname", "funcname")
}

var (
	fnCalls     = functionCounter("pg_stat_user_functions_calls_total", "Calls of the function (needs track_functions pl or all).")
	fnTotalTime = functionCounter("pg_stat_user_functions_total_time_seconds_total", "Time spent in the function and the functions it called.")
	fnSelfTime  = functionCounter("pg_stat_user_functions_self_time_seconds_total", "Time spent in the function itself, without the functions it called.")
)

func init() {
	Register(&Spec{
		Name:    "functions",
		Help:    "Calls and time of user functions from pg_stat_user_functions, the busiest up to objects.functions.top_n per database (nothing where track_functions is none)",
		Scope:   Database,
		Default: true,
		Metrics: []*metric.Metric{fnCalls, fnTotalTime, fnSelfTime},
		New: func(o Options) (Collector, error) {
			return &functionsCollector{topN: o.Config.Objects.Functions.TopN}, nil
		},
	})
}

type functionsCollector struct{ topN int }

// A function name is unique in its schema only with its argument types, so
// they are part of funcname. Ties in time are broken by name, so the same
// statistics choose the same functions. track_functions can be set per
// database and role, so it is read in the same statement, in the database's
// own session: the first row carries it, with NULLs for the function when
// there is none to report (no function called, or tracking off).
const functionsQuery = `SELECT current_setting('track_functions'), f.schemaname::text,
 f.funcname::text || '(' || pg_get_function_identity_arguments(f.funcid) || ')',
 COALESCE(f.calls, 0)::float8, COALESCE(f.total_time, 0) / 1000, COALESCE(f.self_time, 0) / 1000
 FROM (VALUES (1)) AS one LEFT JOIN pg_stat_user_functions f ON current_setting('track_functions') <> 'none'
 ORDER BY f.total_time DESC NULLS FIRST, 2, 3`

func (c *functionsCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, functionsQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	var rest [3]float64
	n := 0
	track := ""
	for rows.Next() {
		var schema, name *string
		var v [3]float64
		if err := rows.Scan(&track, &schema, &name, &v[0], &v[1], &v[2]); err != nil {
			return err
		}
		if schema == nil {
			continue
		}
		n++
		if n > c.topN {
			for i := range rest {
				rest[i] += v[i]
			}
			continue
		}
		for i, m := range []*metric.Metric{fnCalls, fnTotalTime, fnSelfTime} {
			m.Emit(ch, v[i], s.Database, *schema, *name)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if track == "none" {
		return ErrNotApplicable
	}
	if n > c.topN {
		for i, m := range []*metric.Metric{fnCalls, fnTotalTime, fnSelfTime} {
			m.Emit(ch, rest[i], s.Database, "", "")
		}
	}
	return nil
}
