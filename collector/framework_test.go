package collector_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pghardening/pg_hardening_exporter/collector"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/scrapetest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/syncbuf"
)

// Collectors that exist only in this test binary, to exercise the framework:
// database scope, predicates, ErrNoData and the TTL cache.
var (
	visitMetric = metric.Gauge("pg_test_database_visit", "Test: 1 per database visited.", "current_database()", "all", "datname")
	runsMetric  = metric.Counter("pg_test_runs_total", "Test: how often the cached collector really ran.", "test", "all")
	visits      atomic.Int64
	cachedRuns  atomic.Int64
)

type funcCollector func(ctx context.Context, s *collector.Scrape, ch chan<- prometheus.Metric) error

func (f funcCollector) Update(ctx context.Context, s *collector.Scrape, ch chan<- prometheus.Metric) error {
	return f(ctx, s, ch)
}

func init() {
	collector.Register(&collector.Spec{
		Name: "test_dbscope", Help: "test", Scope: collector.Database, Metrics: []*metric.Metric{visitMetric},
		New: func(collector.Options) (collector.Collector, error) {
			return funcCollector(func(ctx context.Context, s *collector.Scrape, ch chan<- prometheus.Metric) error {
				var db string
				if err := s.Conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil {
					return err
				}
				if db != s.Database {
					return errors.New("connected to " + db + ", not " + s.Database)
				}
				visits.Add(1)
				visitMetric.Emit(ch, 1, db)
				return nil
			}), nil
		},
	})
	collector.Register(&collector.Spec{
		Name: "test_needs_ext", Help: "test", Scope: collector.Database, Extension: "pg_trgm",
		Metrics: []*metric.Metric{},
		New: func(collector.Options) (collector.Collector, error) {
			return funcCollector(func(context.Context, *collector.Scrape, chan<- prometheus.Metric) error { return nil }), nil
		},
	})
	collector.Register(&collector.Spec{
		Name: "test_future", Help: "test", Scope: collector.Cluster, MinVersion: 990000,
		New: func(collector.Options) (collector.Collector, error) {
			return funcCollector(func(context.Context, *collector.Scrape, chan<- prometheus.Metric) error {
				return errors.New("ran on a server older than its MinVersion")
			}), nil
		},
	})
	collector.Register(&collector.Spec{
		Name: "test_nodata", Help: "test", Scope: collector.Cluster,
		New: func(collector.Options) (collector.Collector, error) {
			return funcCollector(func(context.Context, *collector.Scrape, chan<- prometheus.Metric) error {
				return collector.ErrNoData
			}), nil
		},
	})
	collector.Register(&collector.Spec{
		Name: "test_notapplicable", Help: "test", Scope: collector.Cluster,
		New: func(collector.Options) (collector.Collector, error) {
			return funcCollector(func(context.Context, *collector.Scrape, chan<- prometheus.Metric) error {
				return collector.ErrNotApplicable
			}), nil
		},
	})
	collector.Register(&collector.Spec{
		// Panics with a query's rows still open, and with a series sent.
		Name: "test_panic", Help: "test", Scope: collector.Cluster, TTL: time.Hour, Metrics: []*metric.Metric{runsMetric},
		New: func(collector.Options) (collector.Collector, error) {
			return funcCollector(func(ctx context.Context, s *collector.Scrape, ch chan<- prometheus.Metric) error {
				runsMetric.Emit(ch, 1)
				rows, err := s.Conn.Query(ctx, "SELECT generate_series(1, 100000)")
				if err != nil {
					return err
				}
				rows.Next()
				visitMetric.Emit(ch, 1) // one label short of the family's: panics
				return nil
			}), nil
		},
	})
	collector.Register(&collector.Spec{
		Name: "test_cached", Help: "test", Scope: collector.Cluster, TTL: time.Hour, Metrics: []*metric.Metric{runsMetric},
		New: func(collector.Options) (collector.Collector, error) {
			return funcCollector(func(_ context.Context, _ *collector.Scrape, ch chan<- prometheus.Metric) error {
				runsMetric.Emit(ch, float64(cachedRuns.Add(1)))
				return nil
			}), nil
		},
	})
}

func TestDatabaseScopeVisitsSelectedDatabases(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	for _, db := range []string{"fw_app1", "fw_app2", "fw_skip"} {
		if err := s.CreateDatabase(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Exec(ctx, "fw_app2", "CREATE EXTENSION IF NOT EXISTS pg_trgm"); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("fw.yml", []byte("databases:\n  include: ['fw_.*']\n  exclude: ['fw_skip']\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := scrapetest.New(t, s.SuperuserDSN("postgres"), cfg, "test_dbscope", "test_needs_ext", "test_future").Scrape(t)
	r.RequireUp(t)
	for _, db := range []string{"fw_app1", "fw_app2"} {
		if v, ok := r.Value("pg_test_database_visit", map[string]string{"datname": db}); !ok || v != 1 {
			t.Errorf("%s not visited", db)
		}
		if v, ok := r.Value("pg_scrape_collector_success", map[string]string{"collector": "test_dbscope", "datname": db}); !ok || v != 1 {
			t.Errorf("no success for %s", db)
		}
	}
	for _, db := range []string{"fw_skip", "postgres", "template1"} {
		if _, ok := r.Value("pg_test_database_visit", map[string]string{"datname": db}); ok {
			t.Errorf("%s visited though not selected", db)
		}
	}
	// The extension predicate holds only where pg_trgm is installed.
	if _, ok := r.Value("pg_scrape_collector_success", map[string]string{"collector": "test_needs_ext", "datname": "fw_app2"}); !ok {
		t.Error("extension collector did not run where the extension is installed")
	}
	if _, ok := r.Value("pg_scrape_collector_success", map[string]string{"collector": "test_needs_ext", "datname": "fw_app1"}); ok {
		t.Error("extension collector ran where the extension is missing")
	}
	if _, ok := r.Value("pg_scrape_collector_success", map[string]string{"collector": "test_future"}); ok {
		t.Error("collector ran below its MinVersion")
	}
}

// A collector that panics fails on that scrape only: the exporter goes on,
// the other collectors report, the session it left mid-query is not handed
// out again, and the next scrape works.
func TestPanickingCollectorFailsAloneAndLoudly(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	var log syncbuf.Buffer
	names := []string{"test_panic", "postmaster", "test_nodata"}
	sc := scrapetest.New(t, s.SuperuserDSN(""), nil, names...)
	cfg, err := config.Load("")
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(&log, nil))
	ins, err := collector.Build(names, collector.Options{Config: cfg, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	sc.Scraper = collector.NewScraper(ins, logger)
	for i := range 3 {
		r := sc.Scrape(t)
		if v, ok := r.Value("pg_up", nil); !ok || v != 1 {
			t.Fatalf("scrape %d: pg_up %v %v", i, v, ok)
		}
		if v, ok := r.Value("pg_scrape_collector_success", map[string]string{"collector": "test_panic"}); !ok || v != 0 {
			t.Errorf("scrape %d: the panicking collector's success is %v (present %v), want 0", i, v, ok)
		}
		if v, ok := r.Value("pg_scrape_collector_success", map[string]string{"collector": "postmaster"}); !ok || v != 1 {
			t.Errorf("scrape %d: postmaster's success is %v (present %v), want 1", i, v, ok)
		}
	}
	if got := log.String(); !strings.Contains(got, "collector panicked") || !strings.Contains(got, "framework_test.go") {
		t.Errorf("the panic was not logged with its stack:\n%.2000s", got)
	}
	if st := sc.Target.Pool.Stats(); st.ClosedBroken < 3 {
		t.Errorf("sessions left mid-query were handed out again: %+v", st)
	}
}

func TestNoDataAndCache(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	sc := scrapetest.New(t, s.SuperuserDSN(""), nil, "test_nodata", "test_cached", "test_notapplicable")
	first := sc.Scrape(t)
	if _, ok := first.Value("pg_scrape_collector_success", map[string]string{"collector": "test_notapplicable"}); ok {
		t.Error("a collector that does not apply reported a success series")
	}
	if v, ok := first.Value("pg_scrape_collector_success", map[string]string{"collector": "test_nodata"}); !ok || v != 0 {
		t.Errorf("ErrNoData: success %v %v, want 0", v, ok)
	}
	if v, _ := first.Value("pg_up", nil); v != 1 {
		t.Fatal("ErrNoData must not fail the scrape")
	}
	runs, _ := first.Value("pg_test_runs_total", nil)
	time.Sleep(20 * time.Millisecond)
	second := sc.Scrape(t)
	if again, _ := second.Value("pg_test_runs_total", nil); again != runs {
		t.Fatalf("cached collector ran again inside its TTL: %v then %v", runs, again)
	}
	age, ok := second.Value("pg_scrape_collector_cache_age_seconds", map[string]string{"collector": "test_cached"})
	if !ok || age <= 0 || age > 5 {
		t.Fatalf("cache age %v (present %v)", age, ok)
	}
	if d, _ := second.Value("pg_scrape_collector_duration_seconds", map[string]string{"collector": "test_cached"}); d != 0 {
		t.Fatalf("duration of a cached result is %v, want 0", d)
	}
}

// With more databases than the pool has connections, each database costs one
// connection per scrape: its database-scoped collectors run one after the
// other on it, where one job per collector made both workers connect to it.
func TestEachDatabaseCostsOneConnectionPerScrape(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	if s.Major < 14 {
		t.Skip("PostgreSQL 13 does not count sessions (pg_stat_database.sessions is 14+)")
	}
	ctx := context.Background()
	const dbs, scrapes = 5, 3
	for i := 1; i <= dbs; i++ {
		if err := s.CreateDatabase(ctx, fmt.Sprintf("churn_%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Parse("fw.yml", []byte("databases:\n  include: ['churn_.*']\nconnection:\n  max_connections: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	sessions := func() float64 {
		return awaitValues(t, s, "postgres", `SELECT sum(sessions)::float8 FROM pg_stat_database WHERE datname LIKE 'churn\_%'`,
			func([]float64) bool { return true })[0]
	}
	before := sessions()
	sc := scrapetest.New(t, s.SuperuserDSN("postgres"), cfg, "tables", "indexes", "schema", "test_dbscope")
	for range scrapes {
		r := sc.Scrape(t)
		r.RequireUp(t)
		for i := 1; i <= dbs; i++ {
			db := fmt.Sprintf("churn_%d", i)
			for _, c := range []string{"tables", "indexes", "schema", "test_dbscope"} {
				if v, _ := r.Value("pg_scrape_collector_success", map[string]string{"collector": c, "datname": db}); v != 1 {
					t.Fatalf("collector %s did not succeed in %s", c, db)
				}
			}
		}
	}
	sc.Target.Close() // sessions are counted for certain once they end
	flushStats(t, s, "postgres")
	sleep(600)
	if opened := sessions() - before; opened > dbs*scrapes || opened < dbs {
		t.Errorf("%v sessions to the %d databases over %d scrapes; want at most one per database and scrape (%d)", opened, dbs, scrapes, dbs*scrapes)
	}
}
