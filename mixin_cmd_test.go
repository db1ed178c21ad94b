package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMixinCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mixin.yml")
	if err := os.WriteFile(cfg, []byte("alerts:\n  PostgresConnectionsHigh:\n    warning: 0.75\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run([]string{"mixin", "--mixin.config=" + cfg, "--mixin.output=" + dir}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	data, err := os.ReadFile(filepath.Join(dir, "rules", "postgres-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "instance:pg_connections:ratio >= 0.75") {
		t.Error("the configured threshold is not in the rendered rules")
	}

	if err := os.WriteFile(cfg, []byte("alerts:\n  PostgresConnectionsHigh:\n    warnng: 0.75\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errOut.Reset()
	if code := run([]string{"mixin", "--mixin.config=" + cfg, "--mixin.output=" + dir}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d for a bad configuration", code)
	}
	if !strings.Contains(errOut.String(), cfg+`:3: unknown key "warnng"`) {
		t.Errorf("error does not point at the line: %s", errOut.String())
	}

	out.Reset()
	if code := run([]string{"mixin", "--mixin.print-example"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "PostgresDown:") {
		t.Errorf("print-example: exit %d, %q", code, out.String())
	}
}
