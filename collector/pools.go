package collector

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
)

var (
	poolConns = metric.Gauge("pg_pool_connections",
		"Client backends of a configured service pool (pools: in the config file), by state; active, idle and idle in transaction are always present.",
		srcActivity, "13+", "pool", "state")
	poolMin = metric.Gauge("pg_pool_min_connections",
		"The pool's configured min_connections.", "config file", "13+", "pool")
	poolMax = metric.Gauge("pg_pool_max_connections",
		"The pool's configured max_connections; pg_pool_connections summed over state divided by this is the pool's utilization.",
		"config file", "13+", "pool")
	poolUnmatched = metric.Gauge("pg_pool_unmatched_connections",
		"Client backends that match no configured pool, by application_name (the exporter's own sessions, and backends still starting, 18+, are left out). Bounded by activity.max_label_sets; the rest are added up under __other__.",
		srcActivity, "13+", "application_name")
)

func init() {
	Register(&Spec{
		Name:    "pools",
		Help:    "Connections of each configured service pool against its min/max, and client sessions outside every pool, from pg_stat_activity",
		Scope:   Cluster,
		Default: true,
		Metrics: []*metric.Metric{poolConns, poolMin, poolMax, poolUnmatched},
		New: func(o Options) (Collector, error) {
			return &poolsCollector{pools: o.Config.Pools, limit: o.Config.Activity.MaxLabelSets}, nil
		},
	})
}

type poolsCollector struct {
	pools []config.Pool
	limit int
}

const poolsQuery = `SELECT COALESCE(application_name, ''), COALESCE(usename, ''), COALESCE(datname, ''),
 COALESCE(state, ''), count(*)::float8
 FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND application_name IS DISTINCT FROM '` + target.ApplicationName + `'
   AND state IS DISTINCT FROM '` + stateStarting + `'
 GROUP BY 1, 2, 3, 4`

// poolStates are reported for every pool even when no session is in them, so
// rules see 0 rather than nothing.
var poolStates = []string{"active", "idle", "idle in transaction"}

func (c *poolsCollector) Update(ctx context.Context, s *Scrape, ch chan<- prometheus.Metric) error {
	rows, err := s.Conn.Query(ctx, poolsQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	byPool := make([]map[string]float64, len(c.pools))
	for i := range byPool {
		byPool[i] = map[string]float64{}
		for _, st := range poolStates {
			byPool[i][st] = 0
		}
	}
	unmatched := newBreakdown(1)
	for rows.Next() {
		var app, user, db, state string
		var n float64
		if err := rows.Scan(&app, &user, &db, &state, &n); err != nil {
			return err
		}
		i := config.MatchPool(c.pools, app, user, db)
		if i < 0 {
			unmatched.add(n, app)
			continue
		}
		byPool[i][state] += n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for i, p := range c.pools {
		for st, n := range byPool[i] {
			poolConns.Emit(ch, n, p.Name, st)
		}
		poolMin.Emit(ch, float64(p.MinConnections), p.Name)
		poolMax.Emit(ch, float64(p.MaxConnections), p.Name)
	}
	for _, set := range unmatched.top(c.limit) {
		poolUnmatched.Emit(ch, set.value, set.labels...)
	}
	return nil
}
