package config

import (
	"strings"
	"testing"
	"time"
)

func TestBackupSourcesParse(t *testing.T) {
	src := `
backup_sources:
  - name: main
    type: pgbackrest
    command: ["setpriv", "--reuid=postgres", "pgbackrest", "--config=/etc/pgbackrest.conf"]
    stanza: main
  - name: scripts
    type: manifest
    directory: /var/lib/backup-manifests
    ttl: 30s
    retention: 168h
    size_window: 3
`
	cfg, err := Parse("x.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.BackupSources) != 2 {
		t.Fatalf("%+v", cfg.BackupSources)
	}
	a, b := cfg.BackupSources[0], cfg.BackupSources[1]
	if a.Timeout != DefaultBackupTimeout || a.TTL != DefaultBackupTTL || a.Retention != 30*24*time.Hour || a.SizeWindow != DefaultBackupSizeWindow || a.Line != 3 {
		t.Errorf("defaults not applied: %+v", a)
	}
	if len(a.Command) != 4 || a.Stanza != "main" {
		t.Errorf("%+v", a)
	}
	if b.TTL != 30*time.Second || b.Retention != 168*time.Hour || b.SizeWindow != 3 || b.Line != 7 {
		t.Errorf("%+v", b)
	}
}

func TestBackupSourcesErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"backup_sources:\n  - name: a\n    type: borg\n", `x.yml:2: backup source "a" has type "borg"; use pgbackrest, walg, barman or manifest`},
		{"backup_sources:\n  - name: a\n    type: barman\n", `x.yml:2: backup source "a" (barman) needs server`},
		{"backup_sources:\n  - name: a\n    type: manifest\n", `x.yml:2: backup source "a" (manifest) needs directory`},
		{"backup_sources:\n  - name: a\n    type: manifest\n    directory: /x\n    command: [ls]\n", `(manifest) reads files and runs no command; remove command`},
		{"backup_sources:\n  - name: a\n    type: walg\n  - name: a\n    type: walg\n", `x.yml:4: backup source "a" is defined twice (first at line 2)`},
		{"backup_sources:\n  - name: a\n    type: walg\n    stanza: s\n", `stanza applies to pgbackrest only`},
		{"backup_sources:\n  - name: a\n    type: walg\n    timeout: 0s\n", `timeout must be a positive duration`},
		{"backup_sources:\n  - name: a\n    type: walg\n    size_window: 0\n", `size_window is 0; use 1 to 100`},
		{"backup_sources:\n  - name: a\n    type: walg\n    command: [wal-g, \"\"]\n", `command[1] is empty`},
		{"backup_sources:\n  - name: \"a b\"\n    type: walg\n", `backup source name "a b" must be`},
		{"backup_sources:\n  - name: a\n    type: walg\n    stanzas: x\n", `x.yml:4: unknown key "stanzas"`},
	} {
		_, err := Parse("x.yml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got %v\nwant %s", c.src, err, c.want)
		}
	}
}
