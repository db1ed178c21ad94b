// The version matrix (-tags matrix) leaves this test out: it always runs on
// Debian's PostgreSQL 15, see below.

//go:build !matrix

package backup

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// sourceView looks up the series of one source.
type sourceView struct {
	r      families.Result
	source string
}

func (v sourceView) Value(name string, l map[string]string) (float64, bool) {
	m := map[string]string{"source": v.source}
	for k, x := range l {
		m[k] = x
	}
	return v.r.Value(name, m)
}

// Real pgBackRest: a cluster archiving through it, a stanza, a full and an
// incremental backup run through backup-record; the metrics equal what
// `pgbackrest info` says. Then the repository becomes unreadable: the next
// run is recorded as failed and the pgBackRest source goes down.
func TestPgBackRestRealRepository(t *testing.T) {
	pgtest.Integration(t)
	// Debian 12's pgBackRest 2.45 backs up PostgreSQL up to 15 (16 and later
	// fail with "unexpected control version"). What this test covers does not
	// depend on the server's version, so it runs on Debian's 15 always.
	t.Setenv(pgtest.BinDirEnv, "")
	bin, err := exec.LookPath("pgbackrest")
	if err != nil {
		pgtest.Skip(t, "pgbackrest", pgtest.InstallDebian)
	}
	base, err := os.MkdirTemp("", "pgbr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	// Server and pgBackRest run as the unprivileged user when the tests run as
	// root; the exporter side runs pgbackrest as that user through setpriv,
	// the way a deployment would put it in the source's command.
	var runAs []string
	if os.Geteuid() == 0 {
		runAs = []string{"setpriv", fmt.Sprintf("--reuid=%d", pgtest.UnprivilegedUID), fmt.Sprintf("--regid=%d", pgtest.UnprivilegedGID), "--clear-groups"}
	}
	for _, d := range []string{"", "repo", "log", "lock", "spool"} {
		p := filepath.Join(base, d)
		if d != "" {
			if err := os.Mkdir(p, 0o750); err != nil {
				t.Fatal(err)
			}
		}
		if runAs != nil {
			if err := os.Chown(p, pgtest.UnprivilegedUID, pgtest.UnprivilegedGID); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	s := pgtest.StartT(t, pgtest.Options{Conf: []string{"archive_mode = on", "archive_command = ''"}})
	conf := filepath.Join(base, "pgbackrest.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf(`[global]
repo1-path=%s
log-path=%s
lock-path=%s
spool-path=%s
log-level-console=warn
log-level-file=off
start-fast=y
archive-timeout=60

[demo]
pg1-path=%s
pg1-port=%d
pg1-socket-path=%s
pg1-user=%s
`, filepath.Join(base, "repo"), filepath.Join(base, "log"), filepath.Join(base, "lock"), filepath.Join(base, "spool"),
		s.DataDir, s.Port, s.SocketDir, pgtest.Superuser)), 0o644); err != nil {
		t.Fatal(err)
	}
	tool := append(append([]string(nil), runAs...), bin, "--config="+conf)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	archive := fmt.Sprintf("%s --config=%s --stanza=demo archive-push %%p", bin, conf)
	if err := s.Exec(ctx, "", "ALTER SYSTEM SET archive_command = '"+archive+"'", "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.CommandContext(ctx, tool[0], append(tool[1:], "--stanza=demo", "stanza-create")...).CombinedOutput(); err != nil {
		t.Fatalf("stanza-create: %v\n%s", err, out)
	}

	manifests := t.TempDir()
	var out strings.Builder
	record := func(typ string) int {
		return RunAndRecord(RecordOptions{Dir: manifests, Stanza: "demo", Type: typ,
			Argv: append(append([]string(nil), tool...), "--stanza=demo", "--type="+typ, "backup"), Stdout: &out, Stderr: &out})
	}
	for _, typ := range []string{"full", "incr"} {
		if code := record(typ); code != 0 {
			t.Fatalf("%s backup: exit %d\n%s", typ, code, out.String())
		}
		if typ == "full" {
			if err := s.Exec(ctx, "", "CREATE TABLE after_full AS SELECT generate_series(1, 10000) g"); err != nil {
				t.Fatal(err)
			}
		}
	}

	c := NewCollector([]config.BackupSource{
		{Name: "pbr", Type: config.BackupPgBackRest, Command: tool, Stanza: "demo", Timeout: time.Minute, Retention: 30 * 24 * time.Hour, SizeWindow: 7},
		{Name: "rec", Type: config.BackupManifest, Directory: manifests, Timeout: time.Minute, Retention: 30 * 24 * time.Hour, SizeWindow: 7},
	}, quietLogger())
	r := families.Gather(t, c)
	info, err := runTool(ctx, append(append([]string(nil), tool...), pbrArgs("demo")...), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if v := r.One(t, "pg_backup_source_up", labels("source", "pbr")); v != 1 {
		t.Fatalf("pgbackrest source up = %v", v)
	}
	checkPgBackRestMetrics(t, sourceView{r, "pbr"}, info)
	if n := len(r.Values("pg_backup_backups", labels("source", "pbr"))); n != 2 {
		t.Errorf("%d backup types listed, want full and incr", n)
	}
	incr := labels("source", "rec", "stanza", "demo", "type", "incr")
	pbrIncr := r.One(t, "pg_backup_last_success_timestamp_seconds", labels("source", "pbr", "type", "incr"))
	recIncr := r.One(t, "pg_backup_last_success_timestamp_seconds", incr)
	if recIncr < pbrIncr || recIncr > pbrIncr+30 {
		t.Errorf("backup-record saw the incremental end at %v, pgBackRest at %v", recIncr, pbrIncr)
	}
	absent(t, r, "pg_backup_last_failure_timestamp_seconds", labels("source", "rec"))

	// Break the repository.
	repo := filepath.Join(base, "repo")
	if err := os.Chmod(repo, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(repo, 0o750) })
	var failedAt []float64
	for i := 0; i < 2; i++ {
		code := record("incr")
		if code == 0 {
			t.Fatalf("backup into an unreadable repository succeeded\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
		r = families.Gather(t, c)
		failedAt = append(failedAt, r.One(t, "pg_backup_last_failure_timestamp_seconds", incr))
		if v := r.One(t, "pg_backup_failed_runs", incr); v != float64(i+1) {
			t.Errorf("failed runs %v, want %d", v, i+1)
		}
	}
	if failedAt[1] <= failedAt[0] || failedAt[0] <= recIncr {
		t.Errorf("failure timestamps %v did not move forward from the last success %v", failedAt, recIncr)
	}
	if v := r.One(t, "pg_backup_last_success_timestamp_seconds", incr); v != recIncr {
		t.Errorf("a failed run moved the last success: %v -> %v", recIncr, v)
	}
	for _, rec := range records(t, manifests) {
		if rec.Status == StatusFailure && (rec.ExitCode == nil || *rec.ExitCode == 0 || rec.Error == "") {
			t.Errorf("failure record without exit code or error: %+v", rec)
		}
	}
	if v := r.One(t, "pg_backup_source_up", labels("source", "pbr")); v != 0 {
		t.Errorf("pgbackrest source up = %v with an unreadable repository", v)
	}
	if v := r.One(t, "pg_backup_repository_status_code", labels("source", "pbr", "repo", "1")); v != pbrOther {
		t.Errorf("repository status %v, want %d", v, pbrOther)
	}
}
