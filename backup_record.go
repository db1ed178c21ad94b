package main

import (
	"io"

	"github.com/alecthomas/kingpin/v2"

	"github.com/pghardening/pg_hardening_exporter/internal/backup"
)

// backupRecordCmd wires the backup-record command: it runs a backup command
// and records its outcome in a manifest directory.
type backupRecordCmd struct {
	cmd       *kingpin.CmdClause
	dir       *string
	kind      *string
	stanza    *string
	typ       *string
	label     *string
	sizeFrom  *string
	encrypted *string
	argv      *[]string
}

func addBackupRecord(app *kingpin.Application) *backupRecordCmd {
	c := &backupRecordCmd{cmd: app.Command("backup-record",
		"Run a backup (or verification, or restore test) command and record its start, end, exit status and size as a manifest file that a manifest backup source reads; exits with the command's exit code.")}
	c.dir = c.cmd.Flag("manifest.dir", "Directory the record is written to (docs/backup-manifest.md).").Required().String()
	c.kind = c.cmd.Flag("kind", "What the command does: backup, verify or restore_test.").Default(backup.KindBackup).Enum(backup.KindBackup, backup.KindVerify, backup.KindRestoreTest)
	c.stanza = c.cmd.Flag("stanza", "Stanza, server or database the run belongs to (the stanza label).").String()
	c.typ = c.cmd.Flag("type", "Backup type: full, diff, incr, wal, ... (required for --kind=backup).").String()
	c.label = c.cmd.Flag("label", "Free-text label stored in the record, e.g. the backup's name.").String()
	c.sizeFrom = c.cmd.Flag("size-from", "File or directory whose size, measured after a successful run, is recorded as the backup's size.").String()
	c.encrypted = c.cmd.Flag("encrypted", "Record whether the backup is encrypted: true or false (default: not recorded).").Enum("", "true", "false")
	c.argv = c.cmd.Arg("command", "The command to run, after --; no shell is involved.").Required().Strings()
	return c
}

func (c *backupRecordCmd) run(stdout, stderr io.Writer) int {
	var enc *bool
	if *c.encrypted != "" {
		v := *c.encrypted == "true"
		enc = &v
	}
	return backup.RunAndRecord(backup.RecordOptions{
		Dir: *c.dir, Kind: *c.kind, Stanza: *c.stanza, Type: *c.typ, Label: *c.label,
		SizeFrom: *c.sizeFrom, Encrypted: enc, Argv: *c.argv, Stdout: stdout, Stderr: stderr,
	})
}
