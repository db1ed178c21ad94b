package exporter_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/pghardening/pg_hardening_exporter/internal/target"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// sessionSampler counts the exporter's sessions per user in pg_stat_activity
// while a test runs, and keeps the most it saw.
type sessionSampler struct {
	mu   sync.Mutex
	most map[string]int
	err  error
	stop chan struct{}
	done chan struct{}
}

func sampleSessions(t *testing.T, s *pgtest.Server) *sessionSampler {
	t.Helper()
	conn, err := s.Connect(t.Context(), "postgres")
	if err != nil {
		t.Fatal(err)
	}
	sm := &sessionSampler{most: map[string]int{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(sm.done)
		defer conn.Close(context.Background())
		for {
			counts, err := exporterSessions(conn)
			sm.mu.Lock()
			if err != nil && sm.err == nil {
				sm.err = err
			}
			total := 0
			for user, n := range counts {
				sm.most[user] = max(sm.most[user], n)
				total += n
			}
			sm.most[allUsers] = max(sm.most[allUsers], total)
			sm.mu.Unlock()
			select {
			case <-sm.stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return sm
}

// finish stops sampling and returns the most sessions seen per user.
func (sm *sessionSampler) finish(t *testing.T) map[string]int {
	t.Helper()
	close(sm.stop)
	<-sm.done
	if sm.err != nil {
		t.Fatalf("sampling pg_stat_activity: %v", sm.err)
	}
	return sm.most
}

// Keys of the sampler's counts beside the user names: every user together,
// and the backends still logging in, whose user PostgreSQL 18 does not show.
const (
	allUsers = "(all)"
	starting = "(starting)"
)

// exporterSessions counts the backends with the exporter's application_name,
// by user.
func exporterSessions(conn *pgx.Conn) (map[string]int, error) {
	rows, err := conn.Query(context.Background(), `SELECT COALESCE(usename, $2), count(*)::int FROM pg_stat_activity WHERE application_name = $1 GROUP BY 1`, target.ApplicationName, starting)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var user string
		var n int
		if err := rows.Scan(&user, &n); err != nil {
			return nil, err
		}
		out[user] = n
	}
	return out, rows.Err()
}

// Probe targets naming 20 databases of one server, with one auth module,
// share one pool: scraped concurrently and repeatedly, the server never sees
// more than connection.max_connections of the exporter's sessions as that
// user, and every scrape is up. Another auth module (another user) gets a
// pool of its own; a target closed under max_targets leaves the pool to the
// others; a reload closes every session.
func TestProbesOfOneServerShareOnePool(t *testing.T) {
	pgtest.Integration(t)
	s := pgtest.StartT(t, pgtest.Options{})
	ctx := t.Context()
	const ndb = 20
	var dbs []string
	for i := 1; i <= ndb; i++ {
		dbs = append(dbs, fmt.Sprintf("db%02d", i))
		if err := s.Exec(ctx, "postgres", "CREATE DATABASE "+dbs[i-1]); err != nil {
			t.Fatal(err)
		}
	}
	module := func(name, user string) string {
		pwFile := monitorRole(t, s, user, user+"pw")
		return fmt.Sprintf(`  %s:
    type: userpass
    userpass: {username: %s, password_file: %s}
    options: {sslmode: disable}
    allowed_targets: {hosts: [127.0.0.1], ports: [%d]}
`, name, user, pwFile, s.Port)
	}
	cfg := fmt.Sprintf("max_targets: %d\nconnection: {max_connections: 2}\nauth_modules:\n", ndb+2) + module("mon", "prober") + module("other", "other")
	h := start(t, cfg, "")
	probe := func(db, authModule string) string {
		return fmt.Sprintf("/probe?target=127.0.0.1:%d/%s&auth_module=%s", s.Port, db, authModule)
	}
	// scrapeAll returns the slowest scrape, for the log: a probe waits for
	// one of the two sessions and mostly reconnects to its own database.
	scrapeAll := func(paths []string, rounds int) time.Duration {
		t.Helper()
		var wg sync.WaitGroup
		var slowest time.Duration
		var mu sync.Mutex
		errs := make(chan string, len(paths)*rounds)
		for _, p := range paths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range rounds {
					code, mfs, body, took := h.get(t, p, 30*time.Second)
					mu.Lock()
					slowest = max(slowest, took)
					mu.Unlock()
					if code != http.StatusOK || mustUp(mfs) != 1 {
						errs <- fmt.Sprintf("%s: HTTP %d, pg_up %v: %.200s", p, code, mustUp(mfs), body)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
		return slowest
	}

	var paths []string
	for _, db := range dbs {
		paths = append(paths, probe(db, "mon"))
	}
	// The other module's user probes two of the databases at the same time.
	paths = append(paths, probe("db01", "other"), probe("db02", "other"))
	alone := scrapeAll(paths[:1], 1)
	sampler := sampleSessions(t, s)
	slowest := scrapeAll(paths, 3)
	most := sampler.finish(t)
	t.Logf("%d probes x 3 rounds, concurrently: at most %d sessions of prober and %d of other, slowest scrape %v (one alone: %v)", len(paths), most["prober"], most["other"], slowest.Round(time.Millisecond), alone.Round(time.Millisecond))
	if most["prober"] > 2 || most["other"] > 2 || most[allUsers] > 4 {
		t.Fatalf("the server saw at most %d sessions of prober, %d of other and %d in all (%d of them logging in), want at most 2 each (max_connections 2 per server and user)",
			most["prober"], most["other"], most[allUsers], most[starting])
	}
	if most["prober"] == 0 || most["other"] == 0 {
		t.Fatalf("sampling saw no exporter sessions (%v); it proves nothing", most)
	}

	server := fmt.Sprintf("127.0.0.1:%d", s.Port)
	wantPools := func(when string) {
		t.Helper()
		pools := map[string]int{}
		for _, p := range h.mgr.Pools() {
			pools[p.Server] = p.Targets
			if p.Stats().Max != 2 {
				t.Errorf("pool %s caps at %d, want 2", p.Server, p.Stats().Max)
			}
		}
		want := map[string]int{"prober@" + server: ndb, "other@" + server: 2}
		if fmt.Sprint(pools) != fmt.Sprint(want) {
			t.Fatalf("%s: open pools and their targets %v, want %v", when, pools, want)
		}
	}
	wantPools("after the scrapes")
	_, mfs, _, _ := h.get(t, "/metrics", 5*time.Second)
	connects, _ := gauge(mfs, "pg_exporter_pool_connects_total", map[string]string{"server": "prober@" + server})
	acquires, _ := gauge(mfs, "pg_exporter_pool_acquires_total", map[string]string{"server": "prober@" + server})
	waited, _ := gauge(mfs, "pg_exporter_pool_acquire_wait_seconds_total", map[string]string{"server": "prober@" + server})
	t.Logf("prober's pool: %v acquires, %v connects, %.2f s waiting in all", acquires, connects, waited)
	if v, _ := gauge(mfs, "pg_exporter_pool_targets", map[string]string{"server": "prober@" + server}); v != ndb {
		t.Fatalf("pg_exporter_pool_targets{server=prober@%s} = %v, want %d", server, v, ndb)
	}
	if n := len(mfs["pg_exporter_pool_max_connections"].GetMetric()); n != 2 {
		t.Fatalf("pg_exporter_pool_max_connections has %d series, want one per pool (2)", n)
	}
	var own []*dto.MetricFamily
	for name, mf := range mfs {
		if strings.HasPrefix(name, "pg_exporter_") {
			own = append(own, mf)
		}
	}
	if problems, err := promlint.NewWithMetricFamilies(own).Lint(); err != nil || len(problems) > 0 {
		t.Fatalf("promlint on the exporter's own families: %v %v", err, problems)
	}

	// One more database's probe closes the least recently scraped target
	// (max_targets), one of prober's once the other module's two are
	// scraped again; the pool stays open for prober's other 19.
	scrapeAll(paths[ndb:], 1)
	paths = append(paths[:ndb-1:ndb-1], probe("postgres", "mon")) // db20 is the least recently scraped
	sampler = sampleSessions(t, s)
	scrapeAll(paths, 2)
	if most := sampler.finish(t); most["prober"] > 2 || most[allUsers] > 4 {
		t.Fatalf("after an eviction the server saw %d sessions of prober, %d in all (%d logging in), want at most 2 of prober and 4 in all",
			most["prober"], most[allUsers], most[starting])
	}
	wantPools("after closing one of prober's targets")

	// A reload closes every target and, with the last, every pool and session.
	resp, err := http.Post(h.http.URL+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reload answered %d", resp.StatusCode)
	}
	if n := len(h.mgr.Pools()); n != 0 {
		t.Fatalf("%d pools open after a reload closed every target", n)
	}
	conn, err := s.Connect(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var left map[string]int
	for range 100 {
		if left, err = exporterSessions(conn); err != nil {
			t.Fatal(err)
		}
		if len(left) == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond) // backends exit after the client closes
	}
	if len(left) != 0 {
		t.Fatalf("exporter sessions left after a reload: %v", left)
	}
}
