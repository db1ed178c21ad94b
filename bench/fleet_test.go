//go:build soak

package bench

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/internal/target"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
)

// Fleet soak settings: the exporter's pool cap, Prometheus's interval and
// timeout, and the monitoring role.
const (
	fleetMaxConns      = 2
	fleetScrapeEvery   = 15 * time.Second
	fleetScrapeTimeout = 10 * time.Second
	fleetJob           = "fleet"
	fleetRole          = "fleet_monitor"
)

// fleetSettings are the knobs read from the environment.
type fleetSettings struct {
	servers, databases int
	duration           time.Duration
	mode               string // probe, split, configured or server
}

func fleetEnv(t *testing.T) fleetSettings {
	t.Helper()
	num := func(name string, def int) int {
		v := os.Getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			t.Fatalf("%s=%q: want a whole number from 1 to 100", name, v)
		}
		return n
	}
	s := fleetSettings{servers: num("FLEET_SERVERS", 2), databases: num("FLEET_DATABASES", 50),
		duration: 5 * time.Minute, mode: "probe"}
	if v := os.Getenv("FLEET_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < fleetScrapeEvery {
			t.Fatalf("FLEET_DURATION=%q: want a Go duration of at least %s, such as 5m", v, fleetScrapeEvery)
		}
		s.duration = d
	}
	if v := os.Getenv("FLEET_MODE"); v != "" {
		if v != "probe" && v != "split" && v != "configured" && v != "server" {
			t.Fatalf("FLEET_MODE=%q: want probe, split, configured or server", v)
		}
		s.mode = v
	}
	return s
}

// TestFleetSoak scrapes FLEET_SERVERS servers of FLEET_DATABASES databases
// from one exporter process with a real Prometheus every 15 s for
// FLEET_DURATION, samples the servers' sessions and the exporter's CPU and
// memory every second, and fails on a failed scrape or collector, a pg_up
// that was not 1 or missing, or more sessions on a server than the
// configuration allows. FLEET_MODE chooses the targets: probe (default), a
// /probe per database through an auth module; configured, a configured
// target per database; server, a /probe per server visiting every database;
// split, a /probe per database asking for the database-scoped collectors
// only (collect[]) beside a /probe per server leaving them out (exclude[]).
//
//	go test -tags soak -run TestFleetSoak -timeout 40m -v ./bench
func TestFleetSoak(t *testing.T) {
	pgtest.Integration(t)
	set := fleetEnv(t)
	stack := promtest.Current()
	stack.Prometheus(t) // skip (fail with CI=true) before anything starts
	ctx := context.Background()
	dir := t.TempDir()

	// PostgreSQL's own limit leaves room for whatever the exporter opens, so
	// the sessions counted are the exporter's choice, not the server's.
	servers := make([]*pgtest.Server, set.servers)
	for i := range servers {
		servers[i] = pgtest.StartT(t, pgtest.Options{Conf: []string{
			fmt.Sprintf("max_connections = %d", 2*fleetMaxConns*set.databases+20)}})
	}
	pw := "fleet-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dbs := make([]string, set.databases)
	for i := range dbs {
		dbs[i] = fmt.Sprintf("db%02d", i)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(servers))
	for i, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fillServer(ctx, s, dbs, pw)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}

	// The exporter: one process, one auth module or one configured target
	// per database, every pool capped at fleetMaxConns.
	cfg, jobs := fleetConfig(set, servers, dbs, pwFile)
	cfgPath := filepath.Join(dir, "exporter.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	exp := startExporter(t, dir, cfgPath)

	// Sessions allowed per server: one capped pool per server and set of
	// credentials, and every target of a server uses the same credentials.
	sessionCap := fleetMaxConns

	var targets []string
	for name, j := range jobs {
		j.Exporter = exp.addr
		jobs[name] = j
		targets = append(targets, j.Targets...)
	}
	sampler := newFleetSampler(t, servers, exp.pid)
	prom := stack.Start(t, promtest.Options{
		ScrapeInterval: fleetScrapeEvery, ScrapeTimeout: fleetScrapeTimeout,
		ProbeJobs: jobs,
	})
	begin := time.Now()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { defer close(done); sampler.run(stop) }()
	t.Logf("%s mode: %d servers x %d databases, %d targets, scraped every %s for %s", set.mode,
		set.servers, set.databases, len(targets), fleetScrapeEvery, set.duration)
	time.Sleep(set.duration)
	close(stop)
	<-done
	end := time.Now()
	if err := exp.alive(); err != nil {
		t.Fatal(err)
	}

	r := queryFleet(t, prom, begin, end)
	cpu := sampler.cpuEnd - sampler.cpuBegin
	minutes := end.Sub(begin).Minutes()
	n := float64(len(targets))

	if r.failed > 0 {
		t.Errorf("%v of %v scrapes failed; down at the end: %v; exporter log:\n%s", r.failed, r.scrapes, r.downNow, exp.logTail(40))
	}
	if len(r.pgUpNot1) > 0 || r.pgUpSeries != len(targets) || r.pgUpMissing != 0 {
		t.Errorf("pg_up was not 1 on %d targets (%v), %d of %d targets had a pg_up series, %v successful scrapes had none; exporter log:\n%s",
			len(r.pgUpNot1), r.pgUpNot1, r.pgUpSeries, len(targets), r.pgUpMissing, exp.logTail(40))
	}
	if len(r.collectorFails) > 0 {
		t.Errorf("%d collector runs failed at least once: %v; exporter log:\n%s",
			len(r.collectorFails), r.collectorFails[:min(len(r.collectorFails), 20)], exp.logTail(40))
	}
	if warn := exp.warnings(); len(warn) > 0 {
		t.Logf("the exporter logged %d warnings and errors; the last:\n%s", len(warn), strings.Join(warn[max(0, len(warn)-10):], "\n"))
	}
	for i, s := range servers {
		if got := sampler.maxSessions[i]; got > sessionCap {
			t.Errorf("server on port %d: up to %d exporter sessions at once, more than the %d its pool allows",
				s.Port, got, sessionCap)
		}
	}
	if sampler.errors > 0 {
		t.Errorf("%d samples failed; last error: %v", sampler.errors, sampler.lastErr)
	}

	maxSess := slices.Max(sampler.maxSessions)
	t.Logf("| mode | servers x databases | duration | scrapes | failed | targets with pg_up!=1 | scrapes without pg_up | max sessions per server (cap) | failed collector runs | scrape s median / p95 / max | after the first 30 s | samples per scrape | exporter CPU s per min | CPU ms per target scrape | peak RSS MiB | RSS KiB per target | load average mean / max |")
	t.Logf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	t.Logf("| %s | %d x %d | %s | %.0f | %.0f | %d | %.0f | %v (%d) | %d | %s | %s | %.0f | %.2f | %.2f | %.1f | %.0f | %.2f / %.2f |",
		set.mode, set.servers, set.databases, end.Sub(begin).Round(time.Second), r.scrapes, r.failed, len(r.pgUpNot1), r.pgUpMissing,
		sampler.maxSessions, sessionCap, len(r.collectorFails), r.all, r.steady, r.samples,
		cpu/minutes, 1000*cpu/r.scrapes, float64(sampler.hwmKiB)/1024, float64(sampler.hwmKiB)/n,
		sampler.loadSum/float64(sampler.loadN), sampler.loadMax)
	t.Logf("max exporter sessions on one server: %d; exporter RSS at the end %d KiB; slowest scrapes: %v",
		maxSess, sampler.rssKiB, r.slowest)
}

// fillServer creates the databases, each with a few tables holding some
// rows, analyzed, and the monitoring role with pg_monitor only.
func fillServer(ctx context.Context, s *pgtest.Server, dbs []string, pw string) error {
	for _, db := range dbs {
		if err := s.CreateDatabase(ctx, db); err != nil {
			return err
		}
		var stmts []string
		for j := range 3 {
			stmts = append(stmts,
				fmt.Sprintf("CREATE TABLE t%d (id int PRIMARY KEY, v text)", j),
				fmt.Sprintf("CREATE INDEX ON t%d (v)", j),
				fmt.Sprintf("INSERT INTO t%d SELECT g, md5(g::text) FROM generate_series(1, %d) g", j, 200*(j+1)))
		}
		stmts = append(stmts, "ANALYZE")
		if err := s.Exec(ctx, db, stmts...); err != nil {
			return fmt.Errorf("server on port %d, database %s: %w", s.Port, db, err)
		}
	}
	_, err := s.CreateMonitorRole(ctx, fleetRole, pw)
	return err
}

// fleetConfig writes the exporter's configuration and returns it with the
// probe jobs Prometheus scrapes (their exporter address still to fill in).
func fleetConfig(set fleetSettings, servers []*pgtest.Server, dbs []string, pwFile string) (cfg string, jobs map[string]promtest.ProbeJob) {
	var b strings.Builder
	fmt.Fprintf(&b, "max_targets: %d\nconnection:\n  max_connections: %d\n", len(servers)*(len(dbs)+1)+8, fleetMaxConns)
	jobs = map[string]promtest.ProbeJob{}
	switch set.mode {
	case "probe", "server", "split":
		var ports []string
		var perDB, perServer []string
		for _, s := range servers {
			ports = append(ports, strconv.Itoa(s.Port))
			perServer = append(perServer, fmt.Sprintf("127.0.0.1:%d", s.Port))
			for _, db := range dbs {
				perDB = append(perDB, fmt.Sprintf("127.0.0.1:%d/%s", s.Port, db))
			}
		}
		fmt.Fprintf(&b, `auth_modules:
  fleet:
    type: userpass
    userpass: {username: %s, password_file: %s}
    options: {sslmode: disable, dbname: postgres}
    allowed_targets: {hosts: [127.0.0.1], ports: [%s]}
`, fleetRole, pwFile, strings.Join(ports, ", "))
		params := map[string][]string{"auth_module": {"fleet"}}
		switch set.mode {
		case "probe":
			jobs[fleetJob] = promtest.ProbeJob{Targets: perDB, Params: params}
		case "server":
			jobs[fleetJob] = promtest.ProbeJob{Targets: perServer, Params: params}
		case "split":
			dbScoped := []string{"tables", "indexes", "functions", "schema", "bloat", "subscription_tables"}
			jobs[fleetJob] = promtest.ProbeJob{Targets: perDB, Params: map[string][]string{
				"auth_module": {"fleet"}, "collect[]": dbScoped,
			}}
			jobs[fleetJob+"-servers"] = promtest.ProbeJob{Targets: perServer, Params: map[string][]string{
				"auth_module": {"fleet"}, "exclude[]": dbScoped,
			}}
		}
	case "configured":
		b.WriteString("targets:\n")
		var targets []string
		for i, s := range servers {
			for _, db := range dbs {
				name := fmt.Sprintf("s%d-%s", i, db)
				targets = append(targets, name)
				fmt.Fprintf(&b, `  - name: %s
    dsn: postgres://%s@127.0.0.1:%d/%s?sslmode=disable
    password_file: %s
    databases: {include: [%s]}
`, name, fleetRole, s.Port, db, pwFile, db)
			}
		}
		jobs[fleetJob] = promtest.ProbeJob{Targets: targets}
	}
	return b.String(), jobs
}

// exporterProc is the exporter running as its own process.
type exporterProc struct {
	pid     int
	addr    string
	logPath string
	cmd     *exec.Cmd
	exited  chan error
}

// startExporter builds the exporter into dir, runs it with cfgPath on a
// free port and waits until it answers.
func startExporter(t *testing.T, dir, cfgPath string) *exporterProc {
	t.Helper()
	bin := filepath.Join(dir, "pg_hardening_exporter")
	build := exec.Command("go", "build", "-o", bin, "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := &exporterProc{addr: addr, logPath: filepath.Join(dir, "exporter.log"), exited: make(chan error, 1)}
	logf, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	p.cmd = exec.Command(bin, "--config.file="+cfgPath, "--web.listen-address="+addr)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.pid = p.cmd.Process.Pid
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(os.Interrupt)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if err := p.alive(); err != nil || time.Now().After(deadline) {
			t.Fatalf("exporter did not answer on %s (%v); log:\n%s", addr, err, p.logTail(30))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *exporterProc) alive() error {
	select {
	case err := <-p.exited:
		p.exited <- err
		return fmt.Errorf("exporter exited: %v; log:\n%s", err, p.logTail(30))
	default:
		return nil
	}
}

// warnings returns the exporter's log lines at level WARN or ERROR.
func (p *exporterProc) warnings() []string {
	b, _ := os.ReadFile(p.logPath)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			out = append(out, l)
		}
	}
	return out
}

func (p *exporterProc) logTail(n int) string {
	b, _ := os.ReadFile(p.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// fleetSampler reads, once a second, the exporter's sessions on each server,
// its CPU time and memory, and the load average.
type fleetSampler struct {
	t        *testing.T
	servers  []*pgtest.Server
	conns    []*pgx.Conn
	pid      int
	clockTck float64

	maxSessions      []int
	cpuBegin, cpuEnd float64 // seconds
	hwmKiB, rssKiB   int64
	loadSum, loadMax float64
	loadN, errors    int
	lastErr          error
}

func newFleetSampler(t *testing.T, servers []*pgtest.Server, pid int) *fleetSampler {
	t.Helper()
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		t.Fatalf("getconf CLK_TCK: %v", err)
	}
	tck, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil || tck <= 0 {
		t.Fatalf("getconf CLK_TCK gave %q", out)
	}
	f := &fleetSampler{t: t, servers: servers, pid: pid, clockTck: tck, maxSessions: make([]int, len(servers))}
	for _, s := range servers {
		c, err := s.Connect(context.Background(), "postgres")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		f.conns = append(f.conns, c)
	}
	if f.cpuBegin, err = f.cpu(); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fleetSampler) run(stop <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		f.sample()
		select {
		case <-stop:
			f.sample()
			return
		case <-tick.C:
		}
	}
}

func (f *fleetSampler) fail(err error) {
	f.errors++
	f.lastErr = err
}

func (f *fleetSampler) sample() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for i, c := range f.conns {
		var n int
		if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1",
			target.ApplicationName).Scan(&n); err != nil {
			f.fail(fmt.Errorf("sessions on port %d: %w", f.servers[i].Port, err))
			continue
		}
		f.maxSessions[i] = max(f.maxSessions[i], n)
	}
	if cpu, err := f.cpu(); err != nil {
		f.fail(err)
	} else {
		f.cpuEnd = cpu
	}
	if err := f.memory(); err != nil {
		f.fail(err)
	}
	if b, err := os.ReadFile("/proc/loadavg"); err != nil {
		f.fail(err)
	} else if l, err := strconv.ParseFloat(strings.Fields(string(b))[0], 64); err != nil {
		f.fail(fmt.Errorf("/proc/loadavg %q: %w", b, err))
	} else {
		f.loadSum += l
		f.loadN++
		f.loadMax = math.Max(f.loadMax, l)
	}
}

// cpu returns the exporter's user and system CPU time in seconds.
func (f *fleetSampler) cpu() (float64, error) {
	path := fmt.Sprintf("/proc/%d/stat", f.pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which ends with the last ')':
	// state is field 3, utime 14 and stime 15.
	i := strings.LastIndexByte(string(b), ')')
	fields := strings.Fields(string(b[i+1:]))
	if i < 0 || len(fields) < 13 {
		return 0, fmt.Errorf("%s: unexpected %q", path, b)
	}
	var ticks float64
	for _, v := range fields[11:13] {
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		ticks += n
	}
	return ticks / f.clockTck, nil
}

// memory reads the exporter's peak and current resident set size.
func (f *fleetSampler) memory() error {
	path := fmt.Sprintf("/proc/%d/status", f.pid)
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmHWM" && k != "VmRSS") {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %s: %w", path, k, err)
		}
		if k == "VmHWM" {
			f.hwmKiB = n
		} else {
			f.rssKiB = n
		}
	}
	return sc.Err()
}

// fleetResult is what Prometheus saw over the run.
type fleetResult struct {
	scrapes, failed   float64
	pgUpNot1, downNow []string
	pgUpSeries        int
	pgUpMissing       float64
	// collectorFails are the collector runs (target, collector, database)
	// that failed at least once.
	collectorFails []string
	all, steady    scrapeTimes
	slowest        []string
	samples        float64
}

// scrapeTimes are scrape durations in seconds.
type scrapeTimes struct{ median, p95, max float64 }

func (d scrapeTimes) String() string {
	return fmt.Sprintf("%.3f / %.3f / %.3f", d.median, d.p95, d.max)
}

// durations reads every sample of q, a range selector, at end.
func durations(t *testing.T, prom *promtest.Server, q string, end time.Time) scrapeTimes {
	t.Helper()
	d, err := prom.RangeValues(context.Background(), q, end)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) == 0 {
		t.Fatalf("%s: no samples", q)
	}
	slices.Sort(d)
	at := func(p float64) float64 { return d[int(math.Ceil(p*float64(len(d))))-1] }
	return scrapeTimes{at(0.5), at(0.95), d[len(d)-1]}
}

// queryFleet reads the run's scrapes from Prometheus.
func queryFleet(t *testing.T, prom *promtest.Server, begin, end time.Time) fleetResult {
	t.Helper()
	ctx := context.Background()
	window := fmt.Sprintf("%ds", int(math.Ceil(end.Sub(begin).Seconds())))
	sel := fmt.Sprintf(`{job=~"%s|%s-servers"}`, fleetJob, fleetJob)
	scalar := func(q string) float64 {
		t.Helper()
		res, err := prom.QueryAt(ctx, q, end)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		if len(res) != 1 {
			t.Fatalf("%s gave %d series, want 1", q, len(res))
		}
		v, err := strconv.ParseFloat(res[0].Value, 64)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return v
	}
	instances := func(q string) []string {
		t.Helper()
		res, err := prom.QueryAt(ctx, q, end)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var out []string
		for _, s := range res {
			out = append(out, s.Metric["instance"])
		}
		slices.Sort(out)
		return out
	}
	var r fleetResult
	r.scrapes = scalar(fmt.Sprintf("sum(count_over_time(up%s[%s]))", sel, window))
	r.failed = r.scrapes - scalar(fmt.Sprintf("sum(sum_over_time(up%s[%s]))", sel, window))
	r.downNow = instances(fmt.Sprintf("up%s == 0", sel))
	r.pgUpNot1 = instances(fmt.Sprintf("min_over_time(pg_up%s[%s]) != 1", sel, window))
	// A scrape that gets no session in time leaves pg_up out: count the
	// successful scrapes that carried none.
	r.pgUpMissing = r.scrapes - r.failed - scalar(fmt.Sprintf("sum(count_over_time(pg_up%s[%s]))", sel, window))
	r.pgUpSeries = len(instances(fmt.Sprintf("last_over_time(pg_up%s[%s])", sel, window)))
	res, err := prom.QueryAt(ctx, fmt.Sprintf("min_over_time(pg_scrape_collector_success%s[%s]) == 0", sel, window), end)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res {
		r.collectorFails = append(r.collectorFails, fmt.Sprintf("%s %s %s", s.Metric["instance"], s.Metric["collector"], s.Metric["datname"]))
	}
	slices.Sort(r.collectorFails)
	r.samples = scalar(fmt.Sprintf("avg(avg_over_time(scrape_samples_scraped%s[%s]))", sel, window))
	r.all = durations(t, prom, fmt.Sprintf("scrape_duration_seconds%s[%s]", sel, window), end)
	// The first interval's scrapes open every pool and fill every cache at
	// once; the rest show the steady state.
	steady := fmt.Sprintf("%ds", int(end.Sub(begin.Add(2*fleetScrapeEvery)).Seconds()))
	r.steady = durations(t, prom, fmt.Sprintf("scrape_duration_seconds%s[%s]", sel, steady), end)
	slow, err := prom.QueryAt(ctx, fmt.Sprintf("topk(3, max_over_time(scrape_duration_seconds%s[%s]))", sel, window), end)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slow {
		r.slowest = append(r.slowest, s.Metric["instance"]+" "+s.Value+" s")
	}
	return r
}
