package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pghardening/pg_hardening_exporter/internal/backup"
	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/exporter"
	"github.com/pghardening/pg_hardening_exporter/internal/metric"
	"github.com/pghardening/pg_hardening_exporter/internal/pgbouncer"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/bouncertest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/promtest"
)

// exporterJob is the job that scrapes the central exporter's own /metrics in
// the e2e test, as in docs/operations.md's /probe setup.
const exporterJob = "pg_hardening_exporter"

// probeTarget is the central exporter's configured target, probed once so
// that its pool and circuit breaker exist.
const probeTarget = "e2e-db"

// sideSources are what an exporter watches besides PostgreSQL: a PgBouncer in
// front of the test server and a manifest backup source.
type sideSources struct {
	pgbouncers []config.PgBouncer
	backups    []config.BackupSource
}

// startSideSources starts a PgBouncer (with one client that ran a query, so
// its pools and statistics exist) and writes backup records of every kind the
// backup panels draw: two full backups (so the size band has an earlier mean)
// and an incremental one, a failed full backup after them, a verification and
// a restore test.
func startSideSources(ctx context.Context, t *testing.T, s *pgtest.Server) sideSources {
	t.Helper()
	b := bouncertest.StartT(t, bouncertest.Options{
		UpstreamPort: s.Port,
		Users:        map[string]string{pgtest.Superuser: s.SuperuserPassword()},
		AdminUsers:   []string{pgtest.Superuser},
	})
	client, err := pgx.Connect(ctx, b.DSN(pgtest.Superuser, s.SuperuserPassword(), "postgres"))
	if err != nil {
		t.Fatalf("connecting through PgBouncer: %v\n%s", err, b.Log())
	}
	t.Cleanup(func() { client.Close(context.Background()) })
	if _, err := client.Exec(ctx, "SELECT 1"); err != nil {
		t.Fatalf("query through PgBouncer: %v", err)
	}

	dir := t.TempDir()
	now := time.Now().UTC()
	at := func(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339) }
	size, earlierSize, encrypted := 3e9, 2.5e9, true
	for _, r := range []backup.Record{
		{Kind: backup.KindBackup, Type: "full", Status: backup.StatusSuccess, EndTime: at(29 * time.Hour), SizeBytes: &earlierSize, Encrypted: &encrypted},
		{Kind: backup.KindBackup, Type: "full", Status: backup.StatusSuccess, EndTime: at(5 * time.Hour), SizeBytes: &size, Encrypted: &encrypted},
		{Kind: backup.KindBackup, Type: "incr", Status: backup.StatusSuccess, EndTime: at(2 * time.Hour), SizeBytes: &size},
		{Kind: backup.KindBackup, Type: "full", Status: backup.StatusFailure, EndTime: at(time.Hour)},
		{Kind: backup.KindVerify, Status: backup.StatusSuccess, EndTime: at(3 * time.Hour)},
		{Kind: backup.KindRestoreTest, Status: backup.StatusSuccess, EndTime: at(4 * time.Hour)},
	} {
		r.FormatVersion, r.Stanza = backup.ManifestVersion, "main"
		if _, err := backup.WriteRecord(dir, &r); err != nil {
			t.Fatal(err)
		}
	}
	return sideSources{
		pgbouncers: []config.PgBouncer{{Name: "pgb-e2e", ConnSource: config.ConnSource{DSN: b.AdminDSN()}, Timeout: config.DefaultPgBouncerTimeout}},
		backups: []config.BackupSource{{Name: "manifest-e2e", Type: "manifest", Directory: dir,
			Timeout: config.DefaultBackupTimeout, TTL: time.Second, Retention: config.DefaultBackupRetention,
			SizeWindow: config.DefaultBackupSizeWindow}},
	}
}

// startCentralExporter serves an exporter with no default target, the way
// one exporter serves many servers through /probe: its /metrics carries only
// its own families (pools, PgBouncers, backup sources, build info). It probes
// its target once, as Prometheus's probe job would, and returns its address.
func startCentralExporter(ctx context.Context, t *testing.T, dsn string, ss sideSources) string {
	t.Helper()
	cfg := config.Defaults()
	cfg.Targets = []config.Target{{Name: probeTarget, ConnSource: config.ConnSource{DSN: dsn}}}
	cfg.PgBouncers, cfg.BackupSources = ss.pgbouncers, ss.backups
	exp, err := exporter.NewFromConfig(exporter.Settings{Collectors: []string{"database"}, Logger: quiet,
		Timeouts: exporter.Timeouts{Offset: 100 * time.Millisecond, Default: 5 * time.Second, Max: time.Minute}}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exp.Close)
	hs := httptest.NewServer(exp.Server.Routes("/metrics", http.NotFoundHandler(), nil))
	t.Cleanup(hs.Close)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL+"/probe?target="+probeTarget, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/probe?target=%s: %s", probeTarget, resp.Status)
	}
	return strings.TrimPrefix(hs.URL, "http://")
}

// selfFamilies are the families an exporter serves on its own /metrics
// whether or not it has a default target.
func selfFamilies() map[string]bool {
	out := map[string]bool{}
	for _, ms := range [][]*metric.Metric{exporter.SelfMetrics(), pgbouncer.Metrics(), backup.Metrics()} {
		for _, m := range ms {
			out[m.Name] = true
		}
	}
	return out
}

// selfServed reports whether every family expr reads is one of the
// exporter's own, so the panel has data under the exporter's job beside /probe.
func selfServed(expr string, self map[string]bool) bool {
	sels, err := selectors(expr)
	if err != nil || len(sels) == 0 {
		return false
	}
	for _, s := range sels {
		if !self[s.Metric] {
			return false
		}
	}
	return true
}

// labelValues asks Prometheus what Grafana asks for label_values(match, label).
func labelValues(ctx context.Context, prom *promtest.Server, match, label string, start, end time.Time) ([]string, error) {
	q := url.Values{"match[]": {match}, "start": {fmt.Sprint(start.Unix())}, "end": {fmt.Sprint(end.Unix())}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, prom.URL+"/api/v1/label/"+label+"/values?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Error  string
		Data   []string
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("label values of %s for %s: %s", label, match, body.Error)
	}
	sort.Strings(body.Data)
	return body.Data, nil
}

// checkVariables runs the job and instance variable queries of the rendered
// dashboards (but Remediation's) against Prometheus, as Grafana asks them,
// and requires each setup's job among the jobs offered and, with that job
// chosen, exactly its instance: want maps job to instance.
func checkVariables(ctx context.Context, t *testing.T, prom *promtest.Server, begin, end time.Time, want map[string]string) {
	t.Helper()
	queries := variableQueries(t)
	checked := 0
	for key, q := range queries {
		uid, name, _ := strings.Cut(key, "/")
		if uid == "pg-remediation" || name != "job" {
			continue
		}
		match, label, ok := parseLabelValues(q)
		if !ok || label != "job" {
			t.Fatalf("%s: %q is not label_values(selector, job)", key, q)
		}
		jobs, err := labelValues(ctx, prom, match, label, begin, end)
		if err != nil {
			t.Fatal(err)
		}
		iq := queries[uid+"/instance"]
		imatch, ilabel, ok := parseLabelValues(iq)
		if !ok || ilabel != "instance" {
			t.Fatalf("%s/instance: %q is not label_values(selector, instance)", uid, iq)
		}
		for job, instance := range want {
			checked++
			if !slices.Contains(jobs, job) {
				t.Errorf("%s: the job variable offers %v, not %s", uid, jobs, job)
			}
			instances, err := labelValues(ctx, prom, substitute(imatch, map[string]string{"job": job}), ilabel, begin, end)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(instances, []string{instance}) {
				t.Errorf("%s: with job %s the instance variable offers %v, want [%s]", uid, job, instances, instance)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no job variable found")
	}
}

// checkExporterJob asks every query that reads only the exporter's own
// families for data with the central exporter's job and instance selected.
func checkExporterJob(ctx context.Context, t *testing.T, prom *promtest.Server, begin, end time.Time, vars map[string]string) {
	t.Helper()
	self := selfFamilies()
	checked := 0
	for _, b := range boards(Defaults()) {
		if b.Receiver {
			continue
		}
		for _, p := range b.panels() {
			for i, q := range p.Queries {
				if !selfServed(q.Expr, self) {
					continue
				}
				key := fmt.Sprintf("%s/%s/%c", b.UID, p.Title, 'A'+i)
				expr := substitute(q.Expr, vars)
				var res []promtest.Sample
				var err error
				if q.Instant {
					res, err = prom.QueryAt(ctx, expr, end)
				} else {
					res, err = prom.QueryRange(ctx, expr, begin, end, time.Second)
				}
				checked++
				switch {
				case err != nil:
					t.Errorf("job %s: %s: %v\n%s", vars["job"], key, err, expr)
				case len(res) == 0:
					t.Errorf("job %s: %s returned no series\n%s", vars["job"], key, expr)
				}
			}
		}
	}
	t.Logf("job %s: %d queries of the exporter's own families checked", vars["job"], checked)
	if checked == 0 {
		t.Fatal("no panel reads the exporter's own families")
	}
}
