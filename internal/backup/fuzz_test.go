package backup

import (
	"testing"
	"time"
)

// The parsers take whatever a tool or a file holds; none may panic, and
// what they accept must render as valid, consistent series.

func FuzzPgBackRest(f *testing.F) {
	f.Add(testdata(f, "pgbackrest-info.json"))
	f.Add([]byte(`[{"name":"[invalid]","status":{"code":99},"repo":[{"key":1,"status":{"code":99}}]}]`))
	f.Add([]byte(`[{"name":"x","status":{"code":0},"backup":[{"type":"full","timestamp":{"stop":1}}]}]`))
	f.Add([]byte(`[{"name":"x","status":{"code":0},"repo":[{"key":1},{"key":1}]},{"name":"x","status":{"code":2}}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if rep, _ := parsePgBackRest(data); rep != nil {
			reportMetrics(t, rep, time.Now(), time.Hour, 3)
		}
	})
}

func FuzzWALG(f *testing.F) {
	f.Add(testdata(f, "walg-backup-list-detail.json"))
	f.Add([]byte(`null`))
	f.Add([]byte(`[{"backup_name":"base_1_D_2","time":"2026-01-01T00:00:00Z"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if rep, err := parseWALG(data); err == nil {
			reportMetrics(t, rep, time.Now(), time.Hour, 3)
		}
	})
}

func FuzzBarman(f *testing.F) {
	f.Add(testdata(f, "barman-list-backups.json"))
	f.Add([]byte(`{"pg":[{"backup_id":"20260101T000000","status":"FAILED"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if rep, err := parseBarman(data, "pg"); err == nil {
			reportMetrics(t, rep, time.Now(), time.Hour, 3)
		}
	})
}

func FuzzManifestRecord(f *testing.F) {
	f.Add([]byte(`{"format_version":1,"kind":"backup","stanza":"a","type":"full","status":"success","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T01:00:00Z","size_bytes":5,"encrypted":true}`))
	f.Add([]byte(`{"format_version":1,"kind":"restore_test","status":"failure","end_time":"2026-01-01T01:00:00Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := parseRecord(data)
		if err != nil {
			return
		}
		rep := &Report{RepositorySize: map[string]float64{}, Encrypted: map[string]bool{}}
		rep.add(rec, map[string]time.Time{})
		reportMetrics(t, rep, time.Now(), time.Hour, 3)
		if _, err := WriteRecord(t.TempDir(), rec); err != nil {
			t.Fatalf("a record that parsed cannot be written back: %v", err)
		}
	})
}
