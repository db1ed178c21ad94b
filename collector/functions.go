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
// statistics choose the same functions.
const functionsQuery = `SELECT schemaname::text, funcname::text || '(' || pg_get_function_identity_arguments(funcid) || ')',
 calls::float8, total_time / 1000, self_time / 1000
 FROM pg_stat_user_functions
 ORDER BY total_time DESC, 1, 2`

func (c *functionsCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	var track string
	if err := s.Conn.QueryRow(ctx, "SELECT current_setting('track_functions')").Scan(&track); err != nil {
		return err
	}
	if track == "none" {
		return ErrNotApplicable
	}
	rows, err := s.Conn.Query(ctx, functionsQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	var rest [3]float64
	n := 0
	for rows.Next() {
		var schema, name string
		var v [3]float64
		if err := rows.Scan(&schema, &name, &v[0], &v[1], &v[2]); err != nil {
			return err
		}
		n++
		if n > c.topN {
			for i := range rest {
				rest[i] += v[i]
			}
			continue
		}
		for i, m := range []*metric.Metric{fnCalls, fnTotalTime, fnSelfTime} {
			m.Emit(ch, v[i], s.Database, schema, name)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n > c.topN {
		for i, m := range []*metric.Metric{fnCalls, fnTotalTime, fnSelfTime} {
			m.Emit(ch, rest[i], s.Database, "", "")
		}
	}
	return nil
}
