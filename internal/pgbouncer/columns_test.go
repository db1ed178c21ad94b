package pgbouncer

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Only PgBouncer 1.18 is installed here; these layouts stand for other
// versions' SHOW output (columns added, dropped, renamed or moved), which
// the collector must read by name.
func synthetic(cols []string, rows ...[]any) *table {
	t := &table{cols: map[string]int{}}
	for i, c := range cols {
		t.cols[c] = i
	}
	for _, r := range rows {
		row := make([]*string, len(r))
		for i, v := range r {
			if v != nil {
				s := v.(string)
				row[i] = &s
			}
		}
		t.rows = append(t.rows, row)
	}
	return t
}

type emitter func(chan<- prometheus.Metric)

func (e emitter) Describe(chan<- *prometheus.Desc)    {}
func (e emitter) Collect(ch chan<- prometheus.Metric) { e(ch) }

// collect gathers what emit sends through a registry, by family name.
func collect(t *testing.T, emit func(chan<- prometheus.Metric)) map[string][]*dto.Metric {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(emitter(emit))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*dto.Metric{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf.GetMetric()
	}
	return out
}

func value(m *dto.Metric) float64 {
	if m.Gauge != nil {
		return m.GetGauge().GetValue()
	}
	return m.GetCounter().GetValue()
}

func TestPoolsByColumnName(t *testing.T) {
	// An older layout: no cancel columns, maxwait_us last but one.
	old := synthetic([]string{"database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle", "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us", "pool_mode"},
		[]any{"app", "u", "3", "2", "1", "0", "0", "0", "0", "4", "250000", "transaction"})
	// A newer layout: columns moved and one this exporter does not know.
	newer := synthetic([]string{"user", "database", "cl_waiting", "cl_active", "load_balance_hosts", "maxwait_us", "maxwait", "sv_active"},
		[]any{"u", "app", "2", "3", nil, "250000", "4", "1"})
	for name, tb := range map[string]*table{"old": old, "newer": newer} {
		got := collect(t, func(ch chan<- prometheus.Metric) { emitPools("b", tb, ch) })
		for metric, want := range map[string]float64{
			"pgbouncer_pools_client_active_connections":  3,
			"pgbouncer_pools_client_waiting_connections": 2,
			"pgbouncer_pools_server_active_connections":  1,
			"pgbouncer_pools_client_maxwait_seconds":     4.25,
		} {
			if ms := got[metric]; len(ms) != 1 || value(ms[0]) != want {
				t.Errorf("%s layout: %s = %v, want %v", name, metric, ms, want)
			}
		}
		if _, ok := got["pgbouncer_pools_client_active_cancel_connections"]; ok {
			t.Errorf("%s layout: a column the version lacks was emitted", name)
		}
	}
}

func TestDatabasesReservePoolRenamed(t *testing.T) {
	tb := synthetic([]string{"name", "host", "port", "database", "force_user", "pool_size", "min_pool_size", "reserve_pool_size", "pool_mode", "max_connections", "current_connections", "paused", "disabled"},
		[]any{"app", nil, "5432", "app", nil, "20", "0", "5", nil, "0", "7", "0", "0"})
	got := collect(t, func(ch chan<- prometheus.Metric) { emitDatabases("b", tb, ch) })
	if ms := got["pgbouncer_databases_reserve_pool"]; len(ms) != 1 || value(ms[0]) != 5 {
		t.Errorf("reserve_pool from reserve_pool_size = %v", ms)
	}
	if ms := got["pgbouncer_databases_current_connections"]; len(ms) != 1 || value(ms[0]) != 7 {
		t.Errorf("current_connections = %v", ms)
	}
	for _, lp := range got["pgbouncer_databases_pool_size"][0].GetLabel() {
		if lp.GetName() == "host" && lp.GetValue() != "" {
			t.Errorf("NULL host gave label %q", lp.GetValue())
		}
	}
}

func TestStatsMicroseconds(t *testing.T) {
	tb := synthetic([]string{"database", "total_query_time", "total_xact_count", "total_server_assignment_count"},
		[]any{"app", "2500000", "10", "12"})
	got := collect(t, func(ch chan<- prometheus.Metric) { emitStats("b", tb, ch) })
	for metric, want := range map[string]float64{
		"pgbouncer_stats_queries_duration_seconds_total": 2.5,
		"pgbouncer_stats_sql_transactions_pooled_total":  10,
		"pgbouncer_stats_server_assignments_total":       12,
	} {
		if ms := got[metric]; len(ms) != 1 || value(ms[0]) != want {
			t.Errorf("%s = %v, want %v", metric, ms, want)
		}
	}
}
