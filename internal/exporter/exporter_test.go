package exporter_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/target"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

var srv *pgtest.Server

func TestMain(m *testing.M) {
	os.Exit(pgtest.RunMain(m, pgtest.Options{}, &srv))
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type harness struct {
	http    *httptest.Server
	mgr     *target.Manager
	state   *exporter.State
	reload  *exporter.Reloader
	cfgPath string
}

// start runs the exporter's HTTP routes in-process, like main does, with the
// default collectors, cfgYAML as its config file and dsn as its default target.
func start(t *testing.T, cfgYAML, dsn string, opts ...func(*exporter.Settings)) *harness {
	t.Helper()
	path := t.TempDir() + "/exporter.yml"
	if err := os.WriteFile(path, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	set := exporter.Settings{ConfigFile: path, Collectors: exporter.DefaultCollectors(),
		Default: mustConn(t, dsn), Logger: quiet,
		Timeouts: exporter.Timeouts{Offset: 100 * time.Millisecond, Default: 5 * time.Second, Max: time.Minute}}
	for _, o := range opts {
		o(&set)
	}
	exp, err := exporter.NewFromConfig(set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exp.Close)
	hs := httptest.NewServer(exp.Server.Routes("/metrics", exp.Reloader, nil))
	t.Cleanup(hs.Close)
	return &harness{http: hs, mgr: exp.Manager, state: exp.State, reload: exp.Reloader, cfgPath: path}
}

func mustConn(t *testing.T, dsn string) *pgx.ConnConfig {
	t.Helper()
	if dsn == "" {
		return nil
	}
	cc, err := target.ParseDSN("test", dsn, "")
	if err != nil {
		t.Fatal(err)
	}
	return cc
}

// get fetches path with a scrape timeout header and parses the answer.
func (h *harness) get(t *testing.T, path string, timeout time.Duration) (int, map[string]*dto.MetricFamily, string, time.Duration) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.http.URL+path, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", fmt.Sprintf("%.3f", timeout.Seconds()))
	begin := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	took := time.Since(begin)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, nil, string(body), took
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("cannot parse the answer: %v", err)
	}
	return resp.StatusCode, mfs, string(body), took
}

func gauge(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		if m.Gauge != nil {
			return m.GetGauge().GetValue(), true
		}
		return m.GetCounter().GetValue(), true
	}
	return 0, false
}

// monitorRole creates a role with pg_monitor only on s and returns a file
// holding its password, for an auth module's password_file.
func monitorRole(t *testing.T, s *pgtest.Server, user, password string) (pwFile string) {
	t.Helper()
	if _, err := s.CreateMonitorRole(context.Background(), user, password); err != nil {
		t.Fatal(err)
	}
	pwFile = t.TempDir() + "/" + user + ".pw"
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return pwFile
}

// exporterConns counts the exporter's sessions on the server.
func exporterConns(t *testing.T, s *pgtest.Server) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := s.Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, target.ApplicationName).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestConcurrentScrapesStayWithinTheCap(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	h := start(t, "connection:\n  max_connections: 2\n", s.SuperuserDSN(""))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	maxSeen := 0
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			n := exporterConns(t, s)
			mu.Lock()
			if n > maxSeen {
				maxSeen = n
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, mfs, body, _ := h.get(t, "/metrics", 10*time.Second)
			if code != 200 {
				mu.Lock()
				failures = append(failures, fmt.Sprintf("%d %s", code, body))
				mu.Unlock()
				return
			}
			if up, _ := gauge(mfs, "pg_up", nil); up != 1 {
				mu.Lock()
				failures = append(failures, "pg_up != 1")
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	if len(failures) > 0 {
		t.Fatalf("%d of 50 scrapes failed: %v", len(failures), failures[0])
	}
	if n := exporterConns(t, s); n > 2 || maxSeen > 2 {
		t.Fatalf("exporter held %d connections now and %d at most, cap 2", n, maxSeen)
	}
}

func TestServerStopsAndReturns(t *testing.T) {
	pgtest.RequireBinaries(t)
	s := pgtest.StartT(t, pgtest.Options{})
	h := start(t, "connection:\n  max_connections: 2\n  breaker_open_for: 1s\n  retry_backoff: 20ms\n", s.SuperuserDSN(""))
	baseline := runtime.NumGoroutine()
	if _, mfs, _, _ := h.get(t, "/metrics", 5*time.Second); mustUp(mfs) != 1 {
		t.Fatal("pg_up is not 1 at the start")
	}

	const cycles, perCycle = 10, 20 // 200 scrapes with the server flapping
	for c := 0; c < cycles; c++ {
		if err := s.StopServer(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < perCycle/2; i++ {
			_, mfs, body, took := h.get(t, "/metrics", 2*time.Second)
			if mfs == nil || mustUp(mfs) != 0 {
				t.Fatalf("cycle %d: server down but answer was %q", c, body)
			}
			if took > 2*time.Second {
				t.Fatalf("cycle %d: a scrape of a stopped server took %s, past its 2s deadline", c, took)
			}
		}
		if err := s.StartServer(); err != nil {
			t.Fatal(err)
		}
		up := 0.0
		for i := 0; i < perCycle/2; i++ {
			_, mfs, _, _ := h.get(t, "/metrics", 2*time.Second)
			if mfs != nil {
				up = mustUp(mfs)
			}
			if up == 1 {
				if n := exporterConns(t, s); n > 2 {
					t.Fatalf("cycle %d: %d exporter connections, cap 2", c, n)
				}
			}
			if up == 0 && i < perCycle/2-1 {
				// The breaker may still be open from the outage: it lets one trial
				// through after breaker_open_for.
				time.Sleep(150 * time.Millisecond)
			}
		}
		if up != 1 {
			t.Fatalf("cycle %d: server back but pg_up is still 0 after %d scrapes", c, perCycle/2)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if g := runtime.NumGoroutine(); g > baseline+10 {
		buf := make([]byte, 1<<16)
		n := runtime.Stack(buf, true)
		t.Fatalf("goroutines grew from %d to %d over 200 scrapes:\n%s", baseline, g, buf[:n])
	}
}

func mustUp(mfs map[string]*dto.MetricFamily) float64 {
	v, ok := gauge(mfs, "pg_up", nil)
	if !ok {
		return -1
	}
	return v
}

func TestScrapeAnswersWhileATableIsLockedExclusively(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	ctx := context.Background()
	if err := s.Exec(ctx, "", "CREATE TABLE IF NOT EXISTS locked_tbl (id int)"); err != nil {
		t.Fatal(err)
	}
	conn, err := s.Connect(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "LOCK TABLE locked_tbl IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	h := start(t, "", s.SuperuserDSN(""))
	code, mfs, body, took := h.get(t, "/metrics", 3*time.Second)
	if code != 200 || mustUp(mfs) != 1 {
		t.Fatalf("scrape under an ACCESS EXCLUSIVE lock: %d %s", code, body)
	}
	if took > 3*time.Second {
		t.Fatalf("scrape took %s, past its 3s deadline", took)
	}
}

func TestProbeTwoTargetsAndBadParameters(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	s2 := pgtest.StartT(t, pgtest.Options{})
	pwFile := monitorRole(t, s2, "prober", "probepw")
	cfg := fmt.Sprintf(`targets:
  - name: first
    dsn: %q
auth_modules:
  mon:
    type: userpass
    userpass:
      username: prober
      password_file: %s
    options:
      sslmode: disable
    allowed_targets:
      hosts: [127.0.0.1]
      ports: [%d]
`, s.SuperuserDSN(""), pwFile, s2.Port)
	h := start(t, cfg, "")
	for _, path := range []string{"/probe?target=first", fmt.Sprintf("/probe?target=127.0.0.1:%d/postgres&auth_module=mon", s2.Port)} {
		code, mfs, body, _ := h.get(t, path, 5*time.Second)
		if code != 200 || mustUp(mfs) != 1 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		if _, ok := gauge(mfs, "pg_stat_database_xact_commit_total", map[string]string{"datname": "postgres"}); !ok {
			t.Fatalf("%s: no database metrics", path)
		}
		if _, ok := mfs["pg_exporter_pool_connections"]; ok {
			t.Fatalf("%s: the exporter's own metrics belong on /metrics only", path)
		}
	}
	// /metrics without a default target serves the exporter's own metrics,
	// including the two probe targets' pools.
	_, mfs, _, _ := h.get(t, "/metrics", 5*time.Second)
	if _, ok := mfs["pg_up"]; ok {
		t.Fatal("pg_up on /metrics without a default target")
	}
	if v, _ := gauge(mfs, "pg_exporter_targets", nil); v != 2 {
		t.Fatalf("pg_exporter_targets = %v, want 2", v)
	}
	for path, want := range map[string]string{
		"/probe":               "the target parameter is missing",
		"/probe?target=nosuch": `unknown target "nosuch"`,
		"/probe?target=127.0.0.1:1/x&auth_module=nosuch": `unknown auth_module "nosuch"`,
		"/probe?target=u:pw@127.0.0.1/x&auth_module=mon": "carries credentials",
	} {
		code, _, body, _ := h.get(t, path, 2*time.Second)
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("%s: %d %q, want 400 containing %q", path, code, body, want)
		}
		if strings.Contains(body, "pw@") {
			t.Errorf("%s: credentials echoed: %q", path, body)
		}
	}
	code, _, body, _ := h.get(t, "/probe?target=127.0.0.1/x?host=evil&auth_module=mon", 2*time.Second)
	if code != http.StatusBadRequest || !strings.Contains(body, `option "host"`) {
		t.Errorf("probe option outside the allowlist: %d %q", code, body)
	}
	// The first server is not among the module's targets: its credentials
	// are not offered there.
	code, _, body, _ = h.get(t, fmt.Sprintf("/probe?target=127.0.0.1:%d/postgres&auth_module=mon", s.Port), 2*time.Second)
	if code != http.StatusForbidden || !strings.Contains(body, "may not be used for 127.0.0.1") {
		t.Errorf("unlisted server: %d %q, want 403", code, body)
	}
}

// A refused reload keeps the running configuration. Its error names files,
// lines and settings: the caller of /-/reload sees it only when the web
// configuration makes every client authenticate.
func TestReloadKeepsOldConfigWhenNewIsBad(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	webDir := t.TempDir()
	webConfig := webDir + "/web.yml"
	if err := os.WriteFile(webConfig, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := start(t, fmt.Sprintf("targets:\n  - name: a\n    dsn: %q\n", s.SuperuserDSN("")), "",
		func(set *exporter.Settings) { set.WebConfigFile = webConfig })
	if code, _, body, _ := h.get(t, "/probe?target=a", 5*time.Second); code != 200 {
		t.Fatalf("before reload: %d %s", code, body)
	}
	if err := os.WriteFile(h.cfgPath, []byte("targets:\n  - name: a\n    dsn: x\n    bogus: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload := func() (int, string) {
		t.Helper()
		resp, err := http.Post(h.http.URL+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	// A web configuration without basic_auth_users or required client
	// certificates lets anyone in: the answer says where to look instead.
	if code, body := reload(); code != 500 || strings.Contains(body, h.cfgPath) || strings.Contains(body, "bogus") ||
		!strings.Contains(body, "the exporter's log says why") {
		t.Fatalf("bad reload, clients not authenticated: answered %d %q", code, body)
	}
	// (Basic auth itself is exporter-toolkit's, in front of every handler.)
	if err := os.WriteFile(webConfig, []byte("basic_auth_users:\n  ops: $2y$10$6xTO3cCnvFJpPvB0nDqN3uSxAo.Jd7MF/KbfuHdGdxhGfUVe4bBeG\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := reload(); code != 500 || !strings.Contains(body, h.cfgPath+`:4: unknown key "bogus"`) {
		t.Fatalf("bad reload, clients authenticated: answered %d %q", code, body)
	}
	if code, _, body, _ := h.get(t, "/probe?target=a", 5*time.Second); code != 200 {
		t.Fatalf("old config not kept: %d %s", code, body)
	}
	_, mfs, _, _ := h.get(t, "/metrics", 5*time.Second)
	if v, _ := gauge(mfs, "pg_exporter_config_last_reload_successful", nil); v != 0 {
		t.Fatal("failed reload not reported")
	}
	// A good file with a second target takes effect.
	good := fmt.Sprintf("targets:\n  - name: a\n    dsn: %q\n  - name: b\n    dsn: %q\n", s.SuperuserDSN(""), s.SuperuserDSN(""))
	if err := os.WriteFile(h.cfgPath, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := h.reload.Reload(); err != nil {
		t.Fatal(err)
	}
	if code, _, body, _ := h.get(t, "/probe?target=b", 5*time.Second); code != 200 {
		t.Fatalf("new target after reload: %d %s", code, body)
	}
	_, mfs, _, _ = h.get(t, "/metrics", 5*time.Second)
	if v, _ := gauge(mfs, "pg_exporter_config_last_reload_successful", nil); v != 1 {
		t.Fatal("successful reload not reported")
	}
}

func TestDeadlineFromHeader(t *testing.T) {
	to := exporter.Timeouts{Offset: 500 * time.Millisecond, Default: 10 * time.Second, Max: time.Minute}
	for hdr, want := range map[string]time.Duration{
		"":     9500 * time.Millisecond,
		"4":    3500 * time.Millisecond,
		"0.2":  20 * time.Millisecond,
		"600":  time.Minute - 500*time.Millisecond,
		"junk": 9500 * time.Millisecond,
		"1e10": time.Minute - 500*time.Millisecond, // would overflow time.Duration
		"+Inf": 9500 * time.Millisecond,
		"NaN":  9500 * time.Millisecond,
	} {
		r := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if hdr != "" {
			r.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", hdr)
		}
		if got := to.Deadline(r); got != want {
			t.Errorf("header %q: deadline %s, want %s", hdr, got, want)
		}
	}
}

// Sessions the server ended while idle (idle_session_timeout, a restart) are
// found by a ping before reuse; the next scrape does not fail on them.
func TestIdleSessionsEndedByTheServerDoNotFailAScrape(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	h := start(t, "", s.SuperuserDSN(""))
	if _, mfs, _, _ := h.get(t, "/metrics", 5*time.Second); mustUp(mfs) != 1 {
		t.Fatal("pg_up is not 1")
	}
	ctx := context.Background()
	if err := s.Exec(ctx, "", `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '`+target.ApplicationName+`'`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the ping threshold
	_, mfs, body, _ := h.get(t, "/metrics", 5*time.Second)
	if mustUp(mfs) != 1 {
		t.Fatalf("first scrape after the server ended the idle sessions: %s", body)
	}
	for _, m := range mfs["pg_scrape_collector_success"].GetMetric() {
		if m.GetGauge().GetValue() != 1 {
			t.Errorf("collector failed after the sessions were ended: %v", m.GetLabel())
		}
	}
}

// Failing to log in to one database fails that database's collectors, not the
// server: the breaker stays closed and the login is not retried.
func TestOneUnreachableDatabaseDoesNotOpenTheBreaker(t *testing.T) {
	s := pgtest.RequireServer(t, srv)
	cfg, err := config.Parse("b.yml", []byte("connection:\n  breaker_failures: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	tg := target.New("t", mustConn(t, s.SuperuserDSN("")), cfg, quiet)
	defer tg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 4; i++ {
		if _, err := tg.Acquire(ctx, "no_such_database"); err == nil {
			t.Fatal("connected to a database that does not exist")
		}
	}
	if st, _ := tg.Breaker.State(time.Now()); st != target.BreakerClosed {
		t.Fatalf("breaker %v after failures on another database", st)
	}
	if n := tg.Pool.Stats().Connects; n != 4 {
		t.Fatalf("%d connection attempts for 4 acquires; a refused login must not be retried", n)
	}
	c, err := tg.Acquire(ctx, "")
	if err != nil {
		t.Fatalf("the target's own database: %v", err)
	}
	c.Release(nil)
}
