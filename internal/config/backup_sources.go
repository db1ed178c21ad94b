package config

import (
	"regexp"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/pghardening/pg_hardening_exporter/internal/yamlfile"
)

// Backup source types.
const (
	BackupPgBackRest = "pgbackrest"
	BackupWALG       = "walg"
	BackupBarman     = "barman"
	BackupManifest   = "manifest"
)

// BackupSource is a backup repository whose state the exporter reports under
// pg_backup_*. Tools are run as the exporter's own user, argv only (no shell).
type BackupSource struct {
	// Name is the value of the source label.
	Name string `yaml:"name"`
	// Type is pgbackrest, walg, barman or manifest.
	Type string `yaml:"type"`
	// Command is the argv that starts the tool (default: pgbackrest, wal-g or
	// barman); the exporter appends the listing subcommand and its options.
	// Wrappers fit here: ["setpriv", "--reuid=postgres", ..., "pgbackrest",
	// "--config=/etc/pgbackrest/pgbackrest.conf"] or ["env", "WALG_S3_PREFIX=...", "wal-g"].
	Command []string `yaml:"command"`
	// Stanza limits a pgbackrest source to one stanza.
	Stanza string `yaml:"stanza"`
	// Server is the barman server to list (required for barman).
	Server string `yaml:"server"`
	// Directory holds the manifest files (required for manifest).
	Directory string `yaml:"directory"`
	// Timeout bounds one run of the tool.
	Timeout time.Duration `yaml:"timeout"`
	// TTL serves the last result for this long; the tools are slow.
	TTL time.Duration `yaml:"ttl"`
	// Retention is how long backups should be kept; older ones mean expiry
	// stopped running.
	Retention time.Duration `yaml:"retention"`
	// SizeWindow is how many earlier successful backups the size mean covers.
	SizeWindow int `yaml:"size_window"`

	Line int `yaml:"-"`
}

// Backup source defaults.
const (
	DefaultBackupTimeout    = time.Minute
	DefaultBackupTTL        = 5 * time.Minute
	DefaultBackupRetention  = 30 * 24 * time.Hour
	DefaultBackupSizeWindow = 7
)

// UnmarshalYAML applies the defaults, then the file's values, and records the line.
func (b *BackupSource) UnmarshalYAML(n *yaml.Node) error {
	type plain BackupSource
	*b = BackupSource{Timeout: DefaultBackupTimeout, TTL: DefaultBackupTTL, Retention: DefaultBackupRetention, SizeWindow: DefaultBackupSizeWindow}
	if err := strictDecode(n, (*plain)(b), "config.BackupSource"); err != nil {
		return err
	}
	b.Line = n.Line
	return nil
}

var backupNameRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// validateBackupSources returns one message per problem, each with file:line.
func (c *Config) validateBackupSources(errs *yamlfile.Errors) {
	add := errs.Add
	seen := map[string]int{}
	for _, b := range c.BackupSources {
		switch {
		case !backupNameRE.MatchString(b.Name):
			add(b.Line, "backup source name %q must be 1-64 letters, digits, '_', '.', ':' or '-'", b.Name)
		case seen[b.Name] != 0:
			add(b.Line, "backup source %q is defined twice (first at line %d); give each source its own name", b.Name, seen[b.Name])
		default:
			seen[b.Name] = b.Line
		}
		switch b.Type {
		case BackupPgBackRest, BackupWALG:
		case BackupBarman:
			if b.Server == "" {
				add(b.Line, "backup source %q (barman) needs server: the barman server name to list", b.Name)
			}
		case BackupManifest:
			if b.Directory == "" {
				add(b.Line, "backup source %q (manifest) needs directory: where the manifest files are written", b.Name)
			}
			if len(b.Command) > 0 {
				add(b.Line, "backup source %q (manifest) reads files and runs no command; remove command", b.Name)
			}
		default:
			add(b.Line, "backup source %q has type %q; use pgbackrest, walg, barman or manifest", b.Name, b.Type)
		}
		if b.Stanza != "" && b.Type != BackupPgBackRest {
			add(b.Line, "backup source %q: stanza applies to pgbackrest only; use server for barman", b.Name)
		}
		if b.Server != "" && b.Type != BackupBarman {
			add(b.Line, "backup source %q: server applies to barman only", b.Name)
		}
		for i, a := range b.Command {
			if a == "" {
				add(b.Line, "backup source %q: command[%d] is empty; every argument must be a non-empty string", b.Name, i)
			}
		}
		if b.Timeout <= 0 {
			add(b.Line, "backup source %q: timeout must be a positive duration such as 60s", b.Name)
		}
		if b.TTL < 0 {
			add(b.Line, "backup source %q: ttl must not be negative", b.Name)
		}
		if b.Retention < 0 {
			add(b.Line, "backup source %q: retention must not be negative (0 turns the retention check off)", b.Name)
		}
		if b.SizeWindow < 1 || b.SizeWindow > 100 {
			add(b.Line, "backup source %q: size_window is %d; use 1 to 100", b.Name, b.SizeWindow)
		}
	}
}
