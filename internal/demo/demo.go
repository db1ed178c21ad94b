// Package demo runs the whole pack on loopback: a throwaway PostgreSQL with
// an example lead-routing schema, the exporter, Prometheus with the generated
// rules, Alertmanager routed to the remediation receiver in dry-run mode, and
// PgBouncer, plus a workload that makes alerts fire. Everything lives in one
// temporary directory and is stopped and removed when the context ends.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/bouncertest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// Options configure a run.
type Options struct {
	// Bin is the pg_hardening_exporter binary.
	Bin string
	// DSN, if set, is an existing server to watch instead of a throwaway one;
	// the schema and the workload are then left out (they would write to it).
	DSN string
	// Out receives the progress and the "where to look" text.
	Out io.Writer
	// Ready, if set, is called once everything runs, with the addresses.
	Ready func(State)
}

// State is where the running parts listen.
type State struct {
	Dir          string
	Exporter     string // base URLs
	Prometheus   string
	Alertmanager string
	Receiver     string
	PgBouncer    int // port
	Postgres     int // port, 0 when watching an existing server
	Pids         []int
}

type run struct {
	o     Options
	dir   string
	procs []*exec.Cmd
	logs  map[*exec.Cmd]string
	pg    *pgtest.Server
	pgb   *bouncertest.Bouncer
}

// Run starts everything, calls Ready, and returns after ctx ends and
// everything has been stopped and removed.
func Run(ctx context.Context, o Options) (err error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if _, err := os.Stat(o.Bin); err != nil {
		return fmt.Errorf("exporter binary %s not found; run make build first (make demo does)", o.Bin)
	}
	for _, tool := range []string{"/usr/bin/prometheus", "/usr/bin/prometheus-alertmanager"} {
		if _, err := os.Stat(tool); err != nil {
			return fmt.Errorf("%s not found; install it with make deps (scripts/install-deps.sh)", tool)
		}
	}
	start := time.Now()
	dir, err := os.MkdirTemp("", "pg-hardening-demo-")
	if err != nil {
		return err
	}
	r := &run{o: o, dir: dir, logs: map[*exec.Cmd]string{}}
	defer r.stop()

	st, err := r.start(ctx)
	if err != nil {
		return err
	}
	if o.Ready != nil {
		o.Ready(st)
	}
	r.watch(ctx, st, start)
	fmt.Fprintln(o.Out, "\ndemo: stopping everything and removing", dir)
	return nil
}

func (r *run) say(format string, args ...any) { fmt.Fprintf(r.o.Out, format+"\n", args...) }

func (r *run) start(ctx context.Context) (State, error) {
	st := State{Dir: r.dir}
	ports, err := freePorts(4)
	if err != nil {
		return st, err
	}
	expPort, promPort, amPort, recPort := ports[0], ports[1], ports[2], ports[3]

	dsn, monDSN, superDSN := r.o.DSN, r.o.DSN, r.o.DSN
	if dsn == "" {
		r.say("demo: starting a throwaway PostgreSQL")
		r.pg, err = pgtest.Start(pgtest.Options{Conf: []string{
			"shared_preload_libraries = 'pg_stat_statements'",
			"track_io_timing = on",
			"pg_stat_statements.track = all",
		}})
		if err != nil {
			return st, err
		}
		st.Postgres = r.pg.Port
		superDSN = r.pg.SuperuserDSN("postgres")
		if err := r.prepareDatabase(ctx); err != nil {
			return st, err
		}
		monDSN = r.pg.DSN("exporter", "exporterpw", "app")
	}

	if r.pg != nil {
		r.say("demo: starting PgBouncer")
		r.pgb, err = bouncertest.Start(bouncertest.Options{
			UpstreamPort: r.pg.Port, PoolSize: 1, PoolMode: "transaction",
			Users:      map[string]string{"app": "apppw", "pgbouncer_admin": "adminpw"},
			AdminUsers: []string{"pgbouncer_admin"},
		})
		if err != nil {
			return st, fmt.Errorf("PgBouncer: %w", err)
		}
		st.PgBouncer = r.pgb.Port
	}

	if err := r.writeConfigs(expPort, promPort, amPort, recPort, superDSN); err != nil {
		return st, err
	}
	if err := r.runTool("mixin", r.o.Bin, "mixin", "--mixin.config="+r.path("mixin.yml"), "--mixin.output="+r.dir); err != nil {
		return st, err
	}

	r.say("demo: starting the exporter, the receiver, Alertmanager and Prometheus")
	exp, err := r.spawn("exporter", []string{"DATA_SOURCE_NAME=" + monDSN}, r.o.Bin,
		"--config.file="+r.path("exporter.yml"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", expPort))
	if err != nil {
		return st, err
	}
	rec, err := r.spawn("receiver", nil, r.o.Bin, "remediate", "--config.file="+r.path("remediate.yml"),
		fmt.Sprintf("--web.listen-address=127.0.0.1:%d", recPort))
	if err != nil {
		return st, err
	}
	am, err := r.spawn("alertmanager", nil, "/usr/bin/prometheus-alertmanager", "--config.file="+r.path("alertmanager.yml"),
		"--storage.path="+r.path("alertmanager-data"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", amPort),
		"--cluster.listen-address=")
	if err != nil {
		return st, err
	}
	prom, err := r.spawn("prometheus", nil, "/usr/bin/prometheus", "--config.file="+r.path("prometheus.yml"),
		"--storage.tsdb.path="+r.path("prometheus-data"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", promPort))
	if err != nil {
		return st, err
	}
	st.Exporter = fmt.Sprintf("http://127.0.0.1:%d", expPort)
	st.Receiver = fmt.Sprintf("http://127.0.0.1:%d", recPort)
	st.Alertmanager = fmt.Sprintf("http://127.0.0.1:%d", amPort)
	st.Prometheus = fmt.Sprintf("http://127.0.0.1:%d", promPort)
	for _, w := range []struct {
		url string
		cmd *exec.Cmd
	}{{st.Exporter + "/-/healthy", exp}, {st.Receiver + "/-/healthy", rec}, {st.Alertmanager + "/-/ready", am}, {st.Prometheus + "/-/ready", prom}} {
		if err := r.waitHTTP(ctx, w.url, w.cmd); err != nil {
			return st, err
		}
	}
	for _, c := range r.procs {
		st.Pids = append(st.Pids, c.Process.Pid)
	}
	if r.pg != nil {
		if err := r.startWorkload(ctx); err != nil {
			return st, err
		}
	}
	r.printWhereToLook(st)
	r.printGrafana(st)
	r.say("\ndemo: from now on, one line per alert that starts pending, fires or resolves, and per receiver decision\n")
	return st, nil
}

func (r *run) path(name string) string { return filepath.Join(r.dir, name) }

// spawn starts a long-running process in its own process group, with its
// output in <dir>/<name>.log.
func (r *run) spawn(name string, env []string, argv ...string) (*exec.Cmd, error) {
	logPath := r.path(name + ".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = r.dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	r.procs = append(r.procs, cmd)
	r.logs[cmd] = logPath
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	return cmd, nil
}

// runTool runs a short command to completion.
func (r *run) runTool(name string, argv ...string) error {
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v\n%s", name, err, out)
	}
	return nil
}

// stop ends every process group (SIGTERM, SIGKILL after 5 s), stops PgBouncer
// and PostgreSQL, and removes the directory.
func (r *run) stop() {
	for i := len(r.procs) - 1; i >= 0; i-- {
		c := r.procs[i]
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, c := range r.procs {
		for time.Now().Before(deadline) && alive(c.Process.Pid) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(c.Process.Pid) {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
	}
	if r.pgb != nil {
		r.pgb.Cleanup()
	}
	if r.pg != nil {
		r.pg.Cleanup()
	}
	_ = os.RemoveAll(r.dir)
}

// alive reports whether pid runs and is not a zombie.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b))
	return len(f) < 3 || f[2] != "Z"
}

func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// waitHTTP waits until url answers 200, or fails with the tail of the log.
func (r *run) waitHTTP(ctx context.Context, url string, cmd *exec.Cmd) error {
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if !alive(cmd.Process.Pid) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	b, _ := os.ReadFile(r.logs[cmd])
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 15 {
		lines = lines[len(lines)-15:]
	}
	return fmt.Errorf("%s did not answer; last lines of %s:\n%s", url, r.logs[cmd], strings.Join(lines, "\n"))
}

func (r *run) printWhereToLook(st State) {
	if r.pg == nil {
		r.say(`
The pack is watching your server (all on loopback; logs and configs in %s):

  exporter metrics     %s/metrics
  Prometheus alerts    %s/alerts
  Alertmanager         %s
  receiver decisions   %s/api/v1/actions

No workload runs against your server, so only the alerts its own state earns
will fire; the demo prints each as it starts pending, fires and resolves, and
each decision of the receiver. The receiver runs in dry-run mode: it logs what
it would do and changes nothing. Ctrl-C stops everything, prints a summary and
removes the directory.`,
			st.Dir, st.Exporter, st.Prometheus, st.Alertmanager, st.Receiver)
		return
	}
	r.say(`
The pack is running (all on loopback; logs and configs in %s):

  exporter metrics     %s/metrics
  Prometheus alerts    %s/alerts
  Alertmanager         %s
  receiver decisions   %s/api/v1/actions
  PostgreSQL           port %d (database app), PgBouncer port %d

The workload makes these fire within a minute or so: PostgresIdleInTransaction,
PostgresLongRunningTransaction, PostgresBlockingSessions, PostgresPoolUtilizationHigh,
PgBouncerClientsWaiting, PostgresDeadTuplesHigh and PostgresSlowQueriesHigh. The demo
prints each alert as it starts pending, fires and resolves, and each decision of the
receiver; the raw answers are at:

  curl -s %s/api/v1/alerts | python3 -m json.tool | grep -E '"(alertname|state)"'
  curl -s %s/api/v1/actions | python3 -m json.tool

The receiver runs in dry-run mode: it logs what it would do and changes nothing.
Ctrl-C stops everything, prints a summary and removes the directory.`,
		st.Dir, st.Exporter, st.Prometheus, st.Alertmanager, st.Receiver, st.Postgres, st.PgBouncer,
		st.Prometheus, st.Receiver)
}

// printGrafana prints the provisioning files that show the generated
// dashboards in a Grafana of the reader's, against the demo's Prometheus.
func (r *run) printGrafana(st State) {
	r.say(`
To see the dashboards (generated into %s/dashboards, the same boards as the
repository's dashboards/) in a Grafana on this machine, provision them with:

  # /etc/grafana/provisioning/datasources/pg-hardening-demo.yaml
  apiVersion: 1
  datasources:
    - name: pg-hardening-demo
      type: prometheus
      access: proxy
      url: %s

  # /etc/grafana/provisioning/dashboards/pg-hardening-demo.yaml
  apiVersion: 1
  providers:
    - name: pg-hardening
      folder: PostgreSQL hardening
      type: file
      options:
        path: %s/dashboards

and restart Grafana. The directory goes away when the demo stops: for a Grafana
that stays, point path at the repository's dashboards/ instead.`, r.dir, st.Prometheus, r.dir)
}
