package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/config"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/families"
)

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Malformed files are skipped and counted; the valid ones beside them, in
// any order, are all reported.
func TestManifestDirectory(t *testing.T) {
	dir := t.TempDir()
	f := func(v float64) *float64 { return &v }
	yes := true
	code := 0
	for _, rec := range []*Record{
		{FormatVersion: 1, Kind: KindBackup, Stanza: "app", Type: "full", Status: StatusSuccess, StartTime: "2026-11-20T02:00:00Z", EndTime: "2026-11-20T02:10:00Z", SizeBytes: f(1000), ExitCode: &code},
		{FormatVersion: 1, Kind: KindBackup, Stanza: "app", Type: "full", Status: StatusSuccess, StartTime: "2026-11-21T02:00:00Z", EndTime: "2026-11-21T02:20:00Z", SizeBytes: f(3000), RepositorySizeBytes: f(9000), Encrypted: &yes},
		{FormatVersion: 1, Kind: KindBackup, Stanza: "app", Type: "incremental", Status: StatusFailure, StartTime: "2026-11-21T08:00:00Z", EndTime: "2026-11-21T08:00:05Z", Error: "disk full"},
		{FormatVersion: 1, Kind: KindVerify, Stanza: "app", Status: StatusSuccess, EndTime: "2026-11-21T03:00:00Z"},
		{FormatVersion: 1, Kind: KindVerify, Stanza: "app", Status: StatusFailure, EndTime: "2026-11-21T04:00:00Z"},
		{FormatVersion: 1, Kind: KindRestoreTest, Stanza: "app", Status: StatusSuccess, EndTime: "2026-11-01T05:00:00Z"},
	} {
		if _, err := WriteRecord(dir, rec); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, dir, "aaa-broken.json", `{"format_version": 1, "kind": "backup"`)
	writeFile(t, dir, "zzz-wrong-version.json", `{"format_version": 2, "kind": "backup", "status": "success", "end_time": "2026-11-21T02:20:00Z", "type": "full"}`)
	writeFile(t, dir, "mmm-bad-status.json", `{"format_version": 1, "kind": "backup", "status": "ok", "end_time": "2026-11-21T02:20:00Z", "type": "full"}`)
	writeFile(t, dir, "two-values.json", `{"format_version": 1, "kind": "verify", "status": "success", "end_time": "2026-11-21T02:20:00Z"} {}`)
	writeFile(t, dir, "huge.json", `{"label": "`+strings.Repeat("x", maxManifestFile)+`"}`)
	writeFile(t, dir, ".backup-app-full.json.123.tmp", `{"half written`)
	writeFile(t, dir, "notes.txt", "not a record")
	if err := os.Mkdir(filepath.Join(dir, "sub.json"), 0o755); err != nil {
		t.Fatal(err)
	}

	rep, err := readManifestDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Skipped != 5 {
		t.Errorf("skipped %d, want 5 (%s)", rep.Skipped, rep.SkippedExample)
	}
	now := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	r := reportMetrics(t, rep, now, 36*time.Hour, 7)
	full := labels("stanza", "app", "type", "full")
	incr := labels("stanza", "app", "type", "incr")
	at := func(s string) float64 { tm, _ := time.Parse(time.RFC3339, s); return unix(tm) }
	if v := r.One(t, "pg_backup_last_success_timestamp_seconds", full); v != at("2026-11-21T02:20:00Z") {
		t.Errorf("full success %v", v)
	}
	if v := r.One(t, "pg_backup_last_success_timestamp_seconds", incr); v != at("2026-11-21T02:20:00Z") {
		t.Errorf("incr covered by full %v", v)
	}
	if v := r.One(t, "pg_backup_last_failure_timestamp_seconds", incr); v != at("2026-11-21T08:00:05Z") {
		t.Errorf("incr failure %v", v)
	}
	if v := r.One(t, "pg_backup_last_duration_seconds", full); v != 1200 {
		t.Errorf("duration %v", v)
	}
	if v := r.One(t, "pg_backup_previous_mean_size_bytes", full); v != 1000 {
		t.Errorf("mean %v", v)
	}
	if v := r.One(t, "pg_backup_repository_size_bytes", labels("stanza", "app")); v != 9000 {
		t.Errorf("repository %v", v)
	}
	if v := r.One(t, "pg_backup_repository_encrypted", labels("stanza", "app")); v != 1 {
		t.Errorf("encrypted %v", v)
	}
	if v := r.One(t, "pg_backup_last_verification_success", labels("stanza", "app")); v != 0 {
		t.Errorf("latest verification failed, got %v", v)
	}
	if v := r.One(t, "pg_backup_last_successful_verification_timestamp_seconds", labels("stanza", "app")); v != at("2026-11-21T03:00:00Z") {
		t.Errorf("last good verification %v", v)
	}
	if v := r.One(t, "pg_backup_last_successful_restore_test_timestamp_seconds", labels("stanza", "app")); v != at("2026-11-01T05:00:00Z") {
		t.Errorf("restore test %v", v)
	}
	if v := r.One(t, "pg_backup_beyond_retention_backups", labels("stanza", "app")); v != 1 {
		t.Errorf("beyond retention %v", v)
	}

	// Through the collector, the skipped files are counted and the source is up.
	c := NewCollector([]config.BackupSource{{Name: "m", Type: config.BackupManifest, Directory: dir, Timeout: time.Second, TTL: time.Minute, SizeWindow: 7}}, quietLogger())
	g := families.Gather(t, c)
	if v := g.One(t, "pg_backup_source_up", labels("source", "m")); v != 1 {
		t.Errorf("up %v", v)
	}
	if v := g.One(t, "pg_backup_source_skipped_entries", labels("source", "m")); v != 5 {
		t.Errorf("skipped %v", v)
	}

	// A missing directory is a failed read, not a crash.
	c = NewCollector([]config.BackupSource{{Name: "gone", Type: config.BackupManifest, Directory: filepath.Join(dir, "nope"), Timeout: time.Second, SizeWindow: 7}}, quietLogger())
	g = families.Gather(t, c)
	if v := g.One(t, "pg_backup_source_up", labels("source", "gone")); v != 0 {
		t.Errorf("missing directory: up %v", v)
	}
}

func TestWriteRecordRejectsInvalid(t *testing.T) {
	dir := t.TempDir()
	for _, rec := range []*Record{
		{FormatVersion: 1, Kind: KindBackup, Type: "Full Backup", Status: StatusSuccess, EndTime: "2026-11-21T02:20:00Z"},
		{FormatVersion: 1, Kind: "snapshot", Status: StatusSuccess, EndTime: "2026-11-21T02:20:00Z"},
		{FormatVersion: 1, Kind: KindVerify, Status: StatusSuccess, EndTime: "yesterday"},
		{FormatVersion: 1, Kind: KindVerify, Stanza: "a/b", Status: StatusSuccess, EndTime: "2026-11-21T02:20:00Z"},
	} {
		if _, err := WriteRecord(dir, rec); err == nil {
			t.Errorf("%+v written", rec)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("%d files left behind", len(entries))
	}
}
