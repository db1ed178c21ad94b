package promtest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// A Stack is one install of Prometheus, promtool and Alertmanager that the
// rule and Alertmanager tests run against: Debian's packages (the oldest
// versions the pack supports) or the current releases that
// scripts/install-deps.sh builds from their Go modules. Tests run once per
// stack, in subtests named by the version (RunPrometheus, RunAlertmanager).
type Stack struct {
	// Name is "debian" or "current".
	Name string
	// prometheus, promtool and alertmanager are the binaries' paths.
	prometheus, promtool, alertmanager string
	// wantProm and wantAM are the releases the current stack is built at;
	// empty for Debian's, whose versions the binaries report.
	wantProm, wantAM string
	install          string
}

// Debian is the stack of Debian's packages (prometheus 2.42, Alertmanager
// 0.25 on bookworm), found on PATH and under /usr/bin.
func Debian() Stack {
	return Stack{Name: "debian", prometheus: lookPath("prometheus"), promtool: lookPath("promtool"),
		alertmanager: lookPath("prometheus-alertmanager"),
		install:      "apt-get install prometheus prometheus-alertmanager (or make deps)"}
}

func lookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	return filepath.Join("/usr/bin", name)
}

// versionsFile names the Go module versions of the current stack; the
// install script builds from it and Current reads it.
const versionsFile = "scripts/current-prometheus.env"

// Current is the stack of the current releases built by
// scripts/install-deps.sh into $PROM_CURRENT_DIR (by default
// /var/cache/pg_hardening_exporter/prom3 as root, else
// $XDG_CACHE_HOME/pg_hardening_exporter/prom3 or ~/.cache/...).
func Current() Stack {
	s := Stack{Name: "current", install: "bash scripts/install-deps.sh (or make deps), which builds it with Go"}
	vers, err := readVersions()
	if err != nil {
		s.install = fmt.Sprintf("%s; %v", s.install, err)
		return s
	}
	promMod, amMod := vers["PROMETHEUS_MODULE_VERSION"], vers["ALERTMANAGER_MODULE_VERSION"]
	s.wantProm, s.wantAM = prometheusRelease(promMod), strings.TrimPrefix(amMod, "v")
	dir := currentDir()
	s.prometheus = filepath.Join(dir, "prometheus-"+promMod, "prometheus")
	s.promtool = filepath.Join(dir, "prometheus-"+promMod, "promtool")
	s.alertmanager = filepath.Join(dir, "alertmanager-"+amMod, "alertmanager")
	return s
}

// Stacks is every stack the tests run against, oldest first.
func Stacks() []Stack { return []Stack{Debian(), Current()} }

// prometheusRelease turns Prometheus's Go module version v0.3MM.P into its
// release 3.MM.P.
func prometheusRelease(mod string) string {
	m := regexp.MustCompile(`^v0\.3(\d\d)\.(\d+)$`).FindStringSubmatch(mod)
	if m == nil {
		return mod
	}
	minor, _ := strconv.Atoi(m[1])
	return fmt.Sprintf("3.%d.%s", minor, m[2])
}

func currentDir() string {
	if d := os.Getenv("PROM_CURRENT_DIR"); d != "" {
		return d
	}
	if os.Geteuid() == 0 {
		return "/var/cache/pg_hardening_exporter/prom3"
	}
	base := os.Getenv("XDG_CACHE_HOME")
	if base == "" {
		home, _ := os.UserHomeDir()
		base = filepath.Join(home, ".cache")
	}
	return filepath.Join(base, "pg_hardening_exporter", "prom3")
}

// readVersions reads the KEY=value lines of the versions file, found in the
// first directory upwards from the test's working directory that has it.
func readVersions() (map[string]string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for {
		f, err := os.Open(filepath.Join(dir, versionsFile))
		if err == nil {
			defer f.Close()
			out := map[string]string{}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				line := strings.TrimSpace(sc.Text())
				if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
					out[k] = v
				}
			}
			return out, sc.Err()
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, fmt.Errorf("no %s above the working directory", versionsFile)
		}
		dir = parent
	}
}

var versions sync.Map // binary path -> version it reports

// reportedVersion runs bin --version and returns the version it names
// ("prometheus, version 2.42.0+ds (branch: ...)" gives 2.42.0), or "" when
// bin cannot be run.
func reportedVersion(bin string) string {
	if v, ok := versions.Load(bin); ok {
		return v.(string)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	v := ""
	if m := regexp.MustCompile(`version (\d+\.\d+\.\d+)`).FindSubmatch(out); err == nil && m != nil {
		v = string(m[1])
	}
	versions.Store(bin, v)
	return v
}

// PrometheusVersion is the release of the stack's Prometheus: the version
// the binary reports, or the one it would be built at when it is missing.
func (s Stack) PrometheusVersion() string { return s.version(s.prometheus, s.wantProm) }

// AlertmanagerVersion is the release of the stack's Alertmanager.
func (s Stack) AlertmanagerVersion() string { return s.version(s.alertmanager, s.wantAM) }

func (s Stack) version(bin, want string) string {
	if v := reportedVersion(bin); v != "" {
		return v
	}
	if want != "" {
		return want
	}
	return s.Name
}

// Prometheus returns the path of the stack's prometheus, or skips the test
// (fails it with CI=true) when it is missing.
func (s Stack) Prometheus(tb testing.TB) string {
	return s.need(tb, "Prometheus", s.prometheus, s.wantProm)
}

// Promtool returns the path of the stack's promtool, or skips the test
// (fails it with CI=true) when it is missing.
func (s Stack) Promtool(tb testing.TB) string {
	return s.need(tb, "promtool", s.promtool, s.wantProm)
}

// Alertmanager returns the path of the stack's alertmanager, or skips the
// test (fails it with CI=true) when it is missing.
func (s Stack) Alertmanager(tb testing.TB) string {
	return s.need(tb, "Alertmanager", s.alertmanager, s.wantAM)
}

// need skips or fails tb when bin does not run, and fails it when a current
// binary reports another version than the one it was built for.
func (s Stack) need(tb testing.TB, what, bin, want string) string {
	tb.Helper()
	pgtest.Integration(tb)
	got := reportedVersion(bin)
	if got == "" {
		where := bin
		if where == "" {
			where = "its path unknown"
		}
		pgtest.Skip(tb, fmt.Sprintf("%s %s (%s)", what, s.Name, where), s.install)
	}
	if want != "" && got != want {
		tb.Fatalf("%s reports version %s, but %s names %s; delete %s and run bash scripts/install-deps.sh",
			bin, got, versionsFile, want, filepath.Dir(bin))
	}
	return bin
}

// RunPrometheus runs f once per stack, in a subtest named after the stack's
// Prometheus release ("prometheus-2.42.0").
func RunPrometheus(t *testing.T, f func(t *testing.T, s Stack)) {
	t.Helper()
	pgtest.Integration(t) // naming the subtests runs the binaries
	for _, s := range Stacks() {
		t.Run("prometheus-"+s.PrometheusVersion(), func(t *testing.T) { f(t, s) })
	}
}

// RunAlertmanager runs f once per stack, in a subtest named after the
// stack's Alertmanager release ("alertmanager-0.25.0").
func RunAlertmanager(t *testing.T, f func(t *testing.T, s Stack)) {
	t.Helper()
	pgtest.Integration(t)
	for _, s := range Stacks() {
		t.Run("alertmanager-"+s.AlertmanagerVersion(), func(t *testing.T) { f(t, s) })
	}
}

// EachPromtool runs f with every stack's promtool, in parallel subtests
// named after the stack's Prometheus release; a missing promtool skips its
// subtest (fails it with CI=true). f must not change what it shares with
// the other subtest.
func EachPromtool(t *testing.T, f func(t *testing.T, promtool string)) {
	t.Helper()
	RunPrometheus(t, func(t *testing.T, s Stack) {
		t.Parallel()
		f(t, s.Promtool(t))
	})
}

// Servers are one Prometheus per stack, all with the same options, for tests
// that make a condition once and check that every version sees it.
type Servers []*Server

// StartEach starts the Prometheus of every stack that has it installed. A
// stack without it is kept as a Server with no URL, whose subtest in Run
// skips (fails with CI=true).
func StartEach(tb testing.TB, opts Options) Servers {
	tb.Helper()
	pgtest.Integration(tb)
	var out Servers
	for _, st := range Stacks() {
		if reportedVersion(st.prometheus) == "" {
			out = append(out, &Server{Stack: st})
			continue
		}
		out = append(out, st.Start(tb, opts))
	}
	return out
}

// Run runs f on each running server in a subtest named after its
// Prometheus release ("prometheus-3.16.0").
func (ss Servers) Run(t *testing.T, f func(t *testing.T, s *Server)) {
	t.Helper()
	for _, s := range ss {
		t.Run("prometheus-"+s.Stack.PrometheusVersion(), func(t *testing.T) {
			if s.URL == "" {
				s.Stack.Prometheus(t) // skips, or fails with CI=true
				t.Fatalf("Prometheus %s was not started", s.Stack.Name)
			}
			f(t, s)
		})
	}
}

// Running returns the servers that run.
func (ss Servers) Running() []*Server {
	var out []*Server
	for _, s := range ss {
		if s.URL != "" {
			out = append(out, s)
		}
	}
	return out
}
