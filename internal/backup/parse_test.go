package backup

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// The recorded pgBackRest output, field by field, against the metrics.
func TestPgBackRestRecorded(t *testing.T) {
	data := testdata(t, "pgbackrest-info.json")
	rep, err := parsePgBackRest(data)
	if err != nil {
		t.Fatal(err)
	}
	checkPgBackRestMetrics(t, reportMetrics(t, rep, time.Now(), 30*24*time.Hour, 7), data)
}

// checkPgBackRestMetrics compares the series of a source named "src" (or the
// source of the result) with the info JSON they were read from.
func checkPgBackRestMetrics(t *testing.T, r interface {
	Value(string, map[string]string) (float64, bool)
}, data []byte) {
	t.Helper()
	var raw []struct {
		Name   string `json:"name"`
		Cipher string `json:"cipher"`
		Status struct {
			Code float64 `json:"code"`
		} `json:"status"`
		Backup []struct {
			Type  string `json:"type"`
			Error bool   `json:"error"`
			Info  struct {
				Size       float64 `json:"size"`
				Repository struct {
					Delta float64 `json:"delta"`
				} `json:"repository"`
			} `json:"info"`
			Timestamp struct{ Start, Stop float64 } `json:"timestamp"`
		} `json:"backup"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	get := func(name string, l map[string]string) float64 {
		t.Helper()
		v, ok := r.Value(name, l)
		if !ok {
			t.Fatalf("%s%v absent or ambiguous", name, l)
		}
		return v
	}
	if len(raw) == 0 {
		t.Fatal("no stanza in the info output")
	}
	for _, st := range raw {
		if len(st.Backup) == 0 {
			t.Fatalf("stanza %s has no backups", st.Name)
		}
		var repo float64
		count := map[string]int{}
		latest := map[string]int{}
		for i, b := range st.Backup {
			repo += b.Info.Repository.Delta
			count[b.Type]++
			latest[b.Type] = i
		}
		var lastAny float64
		for typ, i := range latest {
			b := st.Backup[i]
			l := labels("stanza", st.Name, "type", typ)
			if v := get("pg_backup_last_success_timestamp_seconds", l); v != b.Timestamp.Stop {
				t.Errorf("%s last success %v, info says %v", typ, v, b.Timestamp.Stop)
			}
			if v := get("pg_backup_last_size_bytes", l); v != b.Info.Repository.Delta {
				t.Errorf("%s size %v, info repository delta %v", typ, v, b.Info.Repository.Delta)
			}
			if v := get("pg_backup_last_database_size_bytes", l); v != b.Info.Size {
				t.Errorf("%s database size %v, info size %v", typ, v, b.Info.Size)
			}
			if v := get("pg_backup_last_duration_seconds", l); v != b.Timestamp.Stop-b.Timestamp.Start {
				t.Errorf("%s duration %v", typ, v)
			}
			if v := get("pg_backup_backups", l); v != float64(count[typ]) {
				t.Errorf("%s count %v, info lists %d", typ, v, count[typ])
			}
			if v := get("pg_backup_last_has_errors", l); v != b2f(b.Error) {
				t.Errorf("%s error flag %v", typ, v)
			}
			lastAny = max(lastAny, b.Timestamp.Stop)
		}
		// Without a differential backup, the latest full one stands in for it.
		if _, ok := latest["diff"]; !ok {
			if full, ok := latest["full"]; ok {
				if v := get("pg_backup_last_success_timestamp_seconds", labels("stanza", st.Name, "type", "diff")); v != st.Backup[full].Timestamp.Stop {
					t.Errorf("diff stand-in %v, latest full %v", v, st.Backup[full].Timestamp.Stop)
				}
			}
		}
		if v := get("pg_backup_last_success_timestamp_seconds", labels("stanza", st.Name, "type", "incr")); v != lastAny {
			t.Errorf("incr (any type) %v, latest backup %v", v, lastAny)
		}
		if v := get("pg_backup_oldest_timestamp_seconds", labels("stanza", st.Name)); v != st.Backup[0].Timestamp.Stop {
			t.Errorf("oldest %v, info's first %v", v, st.Backup[0].Timestamp.Stop)
		}
		if v := get("pg_backup_repository_size_bytes", labels("stanza", st.Name)); v != repo {
			t.Errorf("repository size %v, sum of deltas %v", v, repo)
		}
		if v := get("pg_backup_repository_encrypted", labels("stanza", st.Name, "repo", "1")); v != b2f(st.Cipher != "none") {
			t.Errorf("encrypted %v for cipher %s", v, st.Cipher)
		}
		if v := get("pg_backup_stanza_status_code", labels("stanza", st.Name)); v != st.Status.Code {
			t.Errorf("stanza status %v, info %v", v, st.Status.Code)
		}
		if v := get("pg_backup_lock_held", labels("stanza", st.Name)); v != 0 {
			t.Errorf("lock held %v", v)
		}
	}
}

// pgBackRest's answer for an unreadable repository (recorded after chmod 000
// on the repository): the source is down, the status codes still show.
func TestPgBackRestUnreadable(t *testing.T) {
	data := []byte(`[{"archive":[],"backup":[],"cipher":"none","db":[],"name":"[invalid]","repo":[{"cipher":"none","key":1,"status":{"code":99,"message":"[PathOpenError] unable to list file info for path '/tmp/pbrec/repo/backup': [13] Permission denied"}}],"status":{"code":99,"lock":{"backup":{"held":false}},"message":"other"}}]`)
	rep, err := parsePgBackRest(data)
	if !errors.Is(err, ErrUnreadable) || !strings.Contains(err.Error(), "Permission denied") {
		t.Fatalf("err = %v", err)
	}
	r := reportMetrics(t, rep, time.Now(), 0, 7)
	if v := r.One(t, "pg_backup_stanza_status_code", labels("stanza", "")); v != 99 {
		t.Errorf("status %v", v)
	}
	if v := r.One(t, "pg_backup_repository_status_code", labels("repo", "1")); v != 99 {
		t.Errorf("repo status %v", v)
	}
	absent(t, r, "pg_backup_last_success_timestamp_seconds", nil)
}

func TestWALGDocumentedFormat(t *testing.T) {
	rep, err := parseWALG(testdata(t, "walg-backup-list-detail.json"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	r := reportMetrics(t, rep, now, 30*time.Hour, 7)
	ts := func(s string) float64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return unix(tm)
	}
	full, delta := labels("stanza", "", "type", "full"), labels("stanza", "", "type", "delta")
	if v := r.One(t, "pg_backup_last_success_timestamp_seconds", full); v != ts("2026-11-21T02:00:38.25Z") {
		t.Errorf("full %v", v)
	}
	// The newer full backup is also the latest base for a delta.
	if v := r.One(t, "pg_backup_last_success_timestamp_seconds", delta); v != ts("2026-11-21T02:00:38.25Z") {
		t.Errorf("delta %v", v)
	}
	if v := r.One(t, "pg_backup_backups", full); v != 2 {
		t.Errorf("full count %v", v)
	}
	if v := r.One(t, "pg_backup_backups", delta); v != 1 {
		t.Errorf("delta count %v", v)
	}
	if v := r.One(t, "pg_backup_last_size_bytes", full); v != 3170304 {
		t.Errorf("full size %v", v)
	}
	if v := r.One(t, "pg_backup_previous_mean_size_bytes", full); v != 3062538 {
		t.Errorf("previous mean %v", v)
	}
	absent(t, r, "pg_backup_previous_mean_size_bytes", delta)
	if v := r.One(t, "pg_backup_last_duration_seconds", full); v != 36.75 {
		t.Errorf("duration %v", v)
	}
	if v := r.One(t, "pg_backup_repository_size_bytes", nil); v != 3062538+412096+3170304 {
		t.Errorf("repository %v", v)
	}
	// 30 h retention at noon on the 21st: only the first full backup is older.
	if v := r.One(t, "pg_backup_beyond_retention_backups", nil); v != 1 {
		t.Errorf("beyond retention %v", v)
	}
	for _, empty := range []string{"", "null", "  null\n", "[]"} {
		rep, err := parseWALG([]byte(empty))
		if err != nil || len(rep.Runs) != 0 {
			t.Errorf("%q: %v, %d runs", empty, err, len(rep.Runs))
		}
	}
}

func TestBarmanRecorded(t *testing.T) {
	rep, err := parseBarman(testdata(t, "barman-list-backups.json"), "pg")
	if err != nil {
		t.Fatal(err)
	}
	r := reportMetrics(t, rep, time.Unix(1795656000, 0), 0, 7)
	full := labels("stanza", "pg", "type", "full")
	if v := r.One(t, "pg_backup_last_success_timestamp_seconds", full); v != 1795655936 {
		t.Errorf("last success %v", v)
	}
	if v := r.One(t, "pg_backup_backups", full); v != 2 {
		t.Errorf("count %v", v)
	}
	if v := r.One(t, "pg_backup_failed_runs", full); v != 1 {
		t.Errorf("failed %v", v)
	}
	failedAt, _ := time.ParseInLocation(barmanIDLayout, "20261126T011913", time.Local)
	if v := r.One(t, "pg_backup_last_failure_timestamp_seconds", full); v != unix(failedAt) {
		t.Errorf("last failure %v, want %v", v, unix(failedAt))
	}
	if v := r.One(t, "pg_backup_last_size_bytes", full); v != 27041013 {
		t.Errorf("size %v", v)
	}
	if v := r.One(t, "pg_backup_previous_mean_size_bytes", full); v != 23367823 {
		t.Errorf("mean %v", v)
	}
	if v := r.One(t, "pg_backup_oldest_timestamp_seconds", labels("stanza", "pg")); v != 1795655886 {
		t.Errorf("oldest %v", v)
	}
	if v := r.One(t, "pg_backup_repository_size_bytes", labels("stanza", "pg")); v != 27041013+23367823+1379540 {
		t.Errorf("repository %v", v)
	}
	if _, err := parseBarman(testdata(t, "barman-list-backups.json"), "other"); err == nil || !strings.Contains(err.Error(), `no server "other"`) {
		t.Errorf("unknown server: %v", err)
	}
}

// The size mean covers at most size_window earlier successes and leaves out
// failures; a full backup stands in for a missing incremental.
func TestSummaryWindowAndCoverage(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	rep := &Report{DefaultTypes: []string{"full", "diff", "incr"}}
	for i, size := range []float64{1000, 10, 20, 30, 40} {
		rep.Runs = append(rep.Runs, Run{Stanza: "s", Type: "full", OK: true, End: base.Add(time.Duration(i) * time.Hour), Size: size, DatabaseSize: -1})
	}
	rep.Runs = append(rep.Runs, Run{Stanza: "s", Type: "full", OK: false, End: base.Add(10 * time.Hour), Size: -1, DatabaseSize: -1})
	r := reportMetrics(t, rep, base.Add(11*time.Hour), 0, 3)
	full := labels("type", "full")
	if v := r.One(t, "pg_backup_previous_mean_size_bytes", full); v != 20 {
		t.Errorf("mean of the 3 before the last = %v, want 20", v)
	}
	if v := r.One(t, "pg_backup_last_size_bytes", full); v != 40 {
		t.Errorf("last size %v", v)
	}
	if v := r.One(t, "pg_backup_last_failure_timestamp_seconds", full); v != unix(base.Add(10*time.Hour)) {
		t.Errorf("failure %v", v)
	}
	for _, typ := range []string{"diff", "incr"} {
		if v := r.One(t, "pg_backup_last_success_timestamp_seconds", labels("type", typ)); v != unix(base.Add(4*time.Hour)) {
			t.Errorf("%s stand-in %v", typ, v)
		}
		absent(t, r, "pg_backup_backups", labels("type", typ))
	}
	absent(t, r, "pg_backup_beyond_retention_backups", nil)
}
