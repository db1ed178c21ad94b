package backup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// One entry of `wal-g backup-list --detail --json`.
type walgBackup struct {
	BackupName       string   `json:"backup_name"`
	Time             string   `json:"time"`
	StartTime        string   `json:"start_time"`
	FinishTime       string   `json:"finish_time"`
	CompressedSize   *float64 `json:"compressed_size"`
	UncompressedSize *float64 `json:"uncompressed_size"`
}

var walgArgs = []string{"backup-list", "--detail", "--json"}

// parseWALG parses `wal-g backup-list --detail --json`. Delta backups carry
// "_D_" and their base's WAL name in the backup name; the rest are full.
// WAL-G prints nothing (or "null") when there are no backups.
func parseWALG(data []byte) (*Report, error) {
	r := &Report{DefaultTypes: []string{"full", "delta"}, RepositorySize: map[string]float64{}}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		return r, nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(trimmed, &list); err != nil {
		return nil, fmt.Errorf("wal-g backup-list output is not the expected JSON list: %w", err)
	}
	var repo float64
	for i, raw := range list {
		var b walgBackup
		if err := json.Unmarshal(raw, &b); err != nil {
			r.Skipped++
			r.SkippedExample = fmt.Sprintf("entry %d: %v", i, err)
			continue
		}
		end, err := parseTime(b.FinishTime)
		if err != nil {
			// Without --detail only "time" (the listing's modification time) is there.
			end, err = parseTime(b.Time)
		}
		if err != nil || b.BackupName == "" {
			r.Skipped++
			r.SkippedExample = fmt.Sprintf("entry %d (%q): no backup_name or no readable finish_time/time", i, b.BackupName)
			continue
		}
		run := Run{Type: "full", End: end, OK: true, Size: -1, DatabaseSize: -1}
		if strings.Contains(b.BackupName, "_D_") {
			run.Type = "delta"
		}
		if start, err := parseTime(b.StartTime); err == nil {
			run.Start = start
		}
		if b.CompressedSize != nil {
			run.Size = *b.CompressedSize
			repo += run.Size
		}
		if b.UncompressedSize != nil {
			run.DatabaseSize = *b.UncompressedSize
		}
		r.Runs = append(r.Runs, run)
	}
	r.RepositorySize[""] = repo
	return r, nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("empty time")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	if t.Year() < 1971 {
		return time.Time{}, fmt.Errorf("time %q is before 1971", s)
	}
	return t, nil
}
