package mixin

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
	"github.com/pghardening/pg_hardening_exporter/mixin/names"
)

// pgbouncerExprs returns the expressions of the PgBouncer alerts by alert and
// severity.
func pgbouncerExprs(t *testing.T, c *Config) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, g := range c.Rules()["pgbouncer-alerts.yml"].Groups {
		for _, r := range g.Rules {
			out[r.Alert+"/"+r.Labels["severity"]] = r.Expr
		}
	}
	if len(out) == 0 {
		t.Fatal("no PgBouncer alerts rendered")
	}
	return out
}

// TestPgBouncerSelector proves the default PgBouncer rules match the bare
// metric names, whatever job serves them, and a configured selector narrows
// them.
func TestPgBouncerSelector(t *testing.T) {
	want := map[string]string{
		"PgBouncerDown/critical":           "pgbouncer_up == 0",
		"PgBouncerClientsWaiting/warning":  "max by (job, instance, cluster, pgbouncer, database, user) (pgbouncer_pools_client_maxwait_seconds) >= 1",
		"PgBouncerClientsWaiting/critical": "max by (job, instance, cluster, pgbouncer, database, user) (pgbouncer_pools_client_maxwait_seconds) >= 10",
	}
	got := pgbouncerExprs(t, Defaults())
	for k, w := range want {
		if got[k] != w {
			t.Errorf("default %s: got %q, want %q", k, got[k], w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("default PgBouncer alerts %v, want %v", got, want)
	}

	c, err := Parse("m.yml", []byte("selectors:\n  pgbouncer: 'job=\"pgbouncer\", env=\"prod\"'\n"))
	if err != nil {
		t.Fatal(err)
	}
	for k, e := range pgbouncerExprs(t, c) {
		if !strings.Contains(e, `{job="pgbouncer", env="prod"}`) {
			t.Errorf("%s with a pgbouncer selector: %q does not carry it", k, e)
		}
	}
}

// TestEmptySelectorsPassPromtool renders the whole rule pack with no matchers
// at all and has promtool check it: every selector must still be valid
// PromQL, including those that add their own matchers (type="full").
func TestEmptySelectorsPassPromtool(t *testing.T) {
	c, err := Parse("m.yml", []byte("selectors: {postgres: '', pgbouncer: '', backup: ''}\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := c.Write(dir); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "rules", "*.yml"))
	if len(files) == 0 {
		t.Fatal("no rule files rendered")
	}
	var sawBare, sawExtra bool
	for _, f := range c.Rules() {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				sawBare = sawBare || strings.Contains(r.Expr, "pg_up ") || strings.HasPrefix(r.Expr, "pgbouncer_up ")
				sawExtra = sawExtra || strings.Contains(r.Expr, `{type="full"}`)
			}
		}
	}
	if !sawBare || !sawExtra {
		t.Fatalf("empty selectors did not render bare names (%v) and lone extra matchers (%v)", sawBare, sawExtra)
	}
	promtest.EachPromtool(t, func(t *testing.T, promtool string) { checkRules(t, promtool, files) })
}

// backupSelection finds every pg_backup_ selection with its matchers.
var backupSelection = regexp.MustCompile(`\bpg_backup_[a-z_]+(\{[^}]*\})?`)

// backupSelections returns the pg_backup_ selections of every rule, and the
// expressions of the WAL archiving alerts, which read the server itself.
func backupSelections(t *testing.T, c *Config) (sels, archiving []string) {
	t.Helper()
	alerts := map[string]bool{}
	for _, f := range c.Rules() {
		for _, g := range f.Groups {
			for _, r := range g.Rules {
				found := backupSelection.FindAllString(r.Expr, -1)
				sels = append(sels, found...)
				if g.Name == "postgres.backup" {
					alerts[r.Alert] = len(found) > 0
				}
				// The archiving rules read the server: directly, or through
				// the recorded age of unarchived WAL.
				if g.Name == "postgres.archiving" && strings.Contains(r.Expr, "{") ||
					r.Record == names.RecWALAtRisk {
					archiving = append(archiving, r.Expr)
				}
			}
		}
	}
	if len(alerts) != len(backupAlerts) || len(archiving) == 0 {
		t.Fatalf("rendered %d of %d backup alerts and %d archiving rules", len(alerts), len(backupAlerts), len(archiving))
	}
	for a, ok := range alerts {
		if !ok {
			t.Errorf("%s selects no pg_backup_ series", a)
		}
	}
	return sels, archiving
}

// TestBackupSelector proves the backup alerts select pg_backup_ series under
// any job by default (the exporter's own job beside /probe included), follow
// the backup selector and not the postgres one, and that the archiving alerts,
// which read the server, keep the postgres selector.
func TestBackupSelector(t *testing.T) {
	sels, archiving := backupSelections(t, Defaults())
	for _, s := range sels {
		if strings.Contains(s, "job=") {
			t.Errorf("default backup selection %q carries a job matcher", s)
		}
	}
	for _, e := range archiving {
		if !strings.Contains(e, `{job="postgres"}`) {
			t.Errorf("default archiving rule %q lost the postgres selector", e)
		}
	}

	c, err := Parse("m.yml", []byte("selectors:\n  postgres: 'job=\"db\"'\n  backup: 'job=\"pg_hardening_exporter\", env=\"prod\"'\n"))
	if err != nil {
		t.Fatal(err)
	}
	sels, archiving = backupSelections(t, c)
	for _, s := range sels {
		if !strings.Contains(s, `{job="pg_hardening_exporter", env="prod"`) || strings.Contains(s, `job="db"`) {
			t.Errorf("backup selection %q with a backup selector does not carry exactly it", s)
		}
	}
	for _, e := range archiving {
		if !strings.Contains(e, `{job="db"}`) || strings.Contains(e, "pg_hardening_exporter") {
			t.Errorf("archiving rule %q does not follow the postgres selector alone", e)
		}
	}
}

// TestDocsScrapeJobMatchesDefault proves the default postgres selector names
// the job the documented scrape configurations give the servers, in both
// layouts, so the rules work as the documentation sets Prometheus up.
func TestDocsScrapeJobMatchesDefault(t *testing.T) {
	job := regexp.MustCompile(`^job="([^"]+)"$`).FindStringSubmatch(Defaults().Selectors.Postgres)
	if job == nil {
		t.Fatalf("default postgres selector %q is not a single job matcher", Defaults().Selectors.Postgres)
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "docs", "operations.md"))
	if err != nil {
		t.Fatal(err)
	}
	// Each scrape_configs block: the job of its first entry scrapes the
	// servers (directly or through /probe).
	blocks := strings.Split(string(data), "scrape_configs:")[1:]
	if len(blocks) < 2 {
		t.Fatalf("docs/operations.md shows %d scrape configurations, want the direct and the /probe layout", len(blocks))
	}
	first := regexp.MustCompile(`job_name:\s*(\S+)`)
	for i, b := range blocks {
		m := first.FindStringSubmatch(b)
		if m == nil || m[1] != job[1] {
			t.Errorf("docs/operations.md scrape configuration %d scrapes the servers as job %v; the rule pack selects job=%q by default", i+1, m, job[1])
		}
	}
}
