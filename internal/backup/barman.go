package backup

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// One entry of `barman -f json list-backups <server>`.
type barmanBackup struct {
	BackupID         string   `json:"backup_id"`
	Status           string   `json:"status"`
	EndTimeTimestamp string   `json:"end_time_timestamp"`
	SizeBytes        *float64 `json:"size_bytes"`
	WALSizeBytes     *float64 `json:"wal_size_bytes"`
}

func barmanArgs(server string) []string {
	return []string{"-f", "json", "list-backups", server}
}

// barmanIDLayout is the layout of Barman's backup IDs, its local start time.
const barmanIDLayout = "20060102T150405"

// parseBarman parses `barman -f json list-backups <server>`: an object keyed by
// server name. Barman lists failed backups too (status FAILED, with only the
// backup ID, which is the start time on the Barman host's clock, read here
// in the exporter's time zone); running ones (STARTED, WAITING_FOR_WALS) are
// neither successes nor failures yet.
func parseBarman(data []byte, server string) (*Report, error) {
	var byServer map[string][]json.RawMessage
	if err := json.Unmarshal(data, &byServer); err != nil {
		return nil, fmt.Errorf("barman list-backups output is not the expected JSON object: %w", err)
	}
	list, ok := byServer[server]
	if !ok {
		return nil, fmt.Errorf("barman list-backups output has no server %q", server)
	}
	r := &Report{DefaultTypes: []string{"full"}, RepositorySize: map[string]float64{}}
	var repo float64
	for i, raw := range list {
		var b barmanBackup
		if err := json.Unmarshal(raw, &b); err != nil {
			r.Skipped++
			r.SkippedExample = fmt.Sprintf("entry %d: %v", i, err)
			continue
		}
		started, idErr := time.ParseInLocation(barmanIDLayout, b.BackupID, time.Local)
		run := Run{Stanza: server, Type: "full", Size: -1, DatabaseSize: -1}
		if idErr == nil {
			run.Start = started
		}
		switch b.Status {
		case "DONE":
			secs, err := strconv.ParseFloat(b.EndTimeTimestamp, 64)
			if err != nil || secs <= 0 {
				r.Skipped++
				r.SkippedExample = fmt.Sprintf("backup %q: end_time_timestamp %q is not a number", b.BackupID, b.EndTimeTimestamp)
				continue
			}
			run.OK = true
			run.End = time.Unix(int64(secs), 0)
			if b.SizeBytes != nil {
				run.Size = *b.SizeBytes
				repo += run.Size
			}
			if b.WALSizeBytes != nil {
				repo += *b.WALSizeBytes
			}
		case "FAILED":
			if idErr != nil {
				r.Skipped++
				r.SkippedExample = fmt.Sprintf("failed backup %q: the ID is not a start time", b.BackupID)
				continue
			}
		default:
			continue
		}
		r.Runs = append(r.Runs, run)
	}
	r.RepositorySize[server] = repo
	return r, nil
}
