package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// ManifestVersion is the format_version this exporter writes and reads.
const ManifestVersion = 1

// Record kinds.
const (
	KindBackup      = "backup"
	KindVerify      = "verify"
	KindRestoreTest = "restore_test"
)

// Record statuses.
const (
	StatusSuccess = "success"
	StatusFailure = "failure"
)

// Record is one manifest file: one backup run, verification or restore test.
// docs/backup-manifest.md describes the format.
type Record struct {
	FormatVersion       int      `json:"format_version"`
	Kind                string   `json:"kind"`
	Stanza              string   `json:"stanza,omitempty"`
	Type                string   `json:"type,omitempty"`
	Status              string   `json:"status"`
	StartTime           string   `json:"start_time,omitempty"`
	EndTime             string   `json:"end_time"`
	ExitCode            *int     `json:"exit_code,omitempty"`
	SizeBytes           *float64 `json:"size_bytes,omitempty"`
	DatabaseSizeBytes   *float64 `json:"database_size_bytes,omitempty"`
	RepositorySizeBytes *float64 `json:"repository_size_bytes,omitempty"`
	Encrypted           *bool    `json:"encrypted,omitempty"`
	Label               string   `json:"label,omitempty"`
	Tool                string   `json:"tool,omitempty"`
	Host                string   `json:"host,omitempty"`
	Error               string   `json:"error,omitempty"`
}

const (
	// maxManifestFile bounds one manifest file; records are a few hundred bytes.
	maxManifestFile = 64 << 10
	// maxManifestFiles bounds how many files one read looks at (the newest by name).
	maxManifestFiles = 5000
)

var (
	manifestTypeRE   = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
	manifestStanzaRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{0,64}$`)
)

// Validate checks a record and returns one sentence naming the first problem.
func (r *Record) Validate() error {
	if r.FormatVersion != ManifestVersion {
		return fmt.Errorf("format_version is %d; this exporter reads version %d", r.FormatVersion, ManifestVersion)
	}
	switch r.Kind {
	case KindBackup, KindVerify, KindRestoreTest:
	default:
		return fmt.Errorf("kind %q is not backup, verify or restore_test", r.Kind)
	}
	if r.Status != StatusSuccess && r.Status != StatusFailure {
		return fmt.Errorf("status %q is not success or failure", r.Status)
	}
	if !manifestStanzaRE.MatchString(r.Stanza) {
		return fmt.Errorf("stanza %q must be at most 64 letters, digits, '_', '.', ':' or '-'", r.Stanza)
	}
	if r.Kind == KindBackup && !manifestTypeRE.MatchString(normalizeType(r.Type)) {
		return fmt.Errorf("type %q must be 1-32 lower-case letters, digits or '_' (full, diff, incr, wal, ...)", r.Type)
	}
	if _, err := parseTime(r.EndTime); err != nil {
		return fmt.Errorf("end_time %q is not an RFC 3339 time: %v", r.EndTime, err)
	}
	if r.StartTime != "" {
		if _, err := parseTime(r.StartTime); err != nil {
			return fmt.Errorf("start_time %q is not an RFC 3339 time: %v", r.StartTime, err)
		}
	}
	for name, v := range map[string]*float64{"size_bytes": r.SizeBytes, "database_size_bytes": r.DatabaseSizeBytes, "repository_size_bytes": r.RepositorySizeBytes} {
		if v != nil && *v < 0 {
			return fmt.Errorf("%s is negative", name)
		}
	}
	return nil
}

// parseRecord decodes and validates one manifest file.
func parseRecord(data []byte) (*Record, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var r Record
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("not valid JSON for a manifest record: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one JSON value in the file")
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// isManifestName reports whether a file in the directory is a record: it ends
// in .json and does not start with a dot (writers put temporary files there).
func isManifestName(name string) bool {
	return strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, ".")
}

// readManifestDir reads every record in dir. Unreadable or invalid files are
// skipped and counted; only an unreadable directory is an error.
func readManifestDir(dir string) (*Report, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read the manifest directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && isManifestName(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	r := &Report{RepositorySize: map[string]float64{}, Encrypted: map[string]bool{}}
	if len(names) > maxManifestFiles {
		r.Skipped += len(names) - maxManifestFiles
		r.SkippedExample = fmt.Sprintf("%d files beyond the newest %d by name; remove old records", len(names)-maxManifestFiles, maxManifestFiles)
		names = names[len(names)-maxManifestFiles:]
	}
	latest := map[string]time.Time{} // stanza -> end of the record that set repository size/encryption
	for _, name := range names {
		rec, err := readRecordFile(filepath.Join(dir, name))
		if err != nil {
			r.Skipped++
			r.SkippedExample = fmt.Sprintf("%s: %v", name, err)
			continue
		}
		r.add(rec, latest)
	}
	return r, nil
}

func readRecordFile(path string) (*Record, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxManifestFile+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxManifestFile {
		return nil, fmt.Errorf("larger than %d bytes", maxManifestFile)
	}
	return parseRecord(data)
}

// add folds one valid record into the report.
func (r *Report) add(rec *Record, latest map[string]time.Time) {
	end, _ := parseTime(rec.EndTime)
	ok := rec.Status == StatusSuccess
	switch rec.Kind {
	case KindVerify:
		r.Verifications = append(r.Verifications, Check{Stanza: rec.Stanza, At: end, OK: ok})
		return
	case KindRestoreTest:
		r.RestoreTests = append(r.RestoreTests, Check{Stanza: rec.Stanza, At: end, OK: ok})
		return
	}
	run := Run{Stanza: rec.Stanza, Type: normalizeType(rec.Type), End: end, OK: ok, Size: -1, DatabaseSize: -1}
	if start, err := parseTime(rec.StartTime); err == nil {
		run.Start = start
	}
	if rec.SizeBytes != nil {
		run.Size = *rec.SizeBytes
	}
	if rec.DatabaseSizeBytes != nil {
		run.DatabaseSize = *rec.DatabaseSizeBytes
	}
	r.Runs = append(r.Runs, run)
	if rec.RepositorySizeBytes == nil && rec.Encrypted == nil {
		return
	}
	if t, seen := latest[rec.Stanza]; seen && end.Before(t) {
		return
	}
	latest[rec.Stanza] = end
	if rec.RepositorySizeBytes != nil {
		r.RepositorySize[rec.Stanza] = *rec.RepositorySizeBytes
	}
	if rec.Encrypted != nil {
		r.Encrypted[rec.Stanza] = *rec.Encrypted
	}
}

// WriteRecord writes rec into dir atomically (a temporary dot-file, fsync,
// rename, fsync of the directory) and returns the file's path. The name is
// <kind>-<stanza>-<type>-<end time>-<pid>.json, so names sort by time within
// a kind.
func WriteRecord(dir string, rec *Record) (string, error) {
	if err := rec.Validate(); err != nil {
		return "", fmt.Errorf("record not written: %w", err)
	}
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return "", err
	}
	data = append(data, '\n')
	end, _ := parseTime(rec.EndTime)
	parts := []string{rec.Kind}
	if rec.Stanza != "" {
		parts = append(parts, rec.Stanza)
	}
	if rec.Type != "" {
		parts = append(parts, normalizeType(rec.Type))
	}
	parts = append(parts, end.UTC().Format("20060102T150405.000000000Z"), fmt.Sprint(os.Getpid()))
	name := strings.Join(parts, "-") + ".json"
	tmp, err := os.CreateTemp(dir, "."+name+".*.tmp")
	if err != nil {
		return "", fmt.Errorf("cannot create a file in the manifest directory: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return path, nil
}
