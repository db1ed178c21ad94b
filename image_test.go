package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// The Dockerfile builds with buildah from the static binary alone, and the
// image runs the exporter as a non-root user.
func TestImageBuildsAndRunsVersion(t *testing.T) {
	pgtest.Integration(t)
	buildah, err := exec.LookPath("buildah")
	if err != nil {
		pgtest.Skip(t, "buildah", "make deps (scripts/install-deps.sh)")
	}
	ctxDir := t.TempDir()
	store := t.TempDir()
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/prometheus/common/version.Version=9.9.9-test",
		"-o", filepath.Join(ctxDir, "pg_hardening_exporter"), ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	for _, f := range []string{"Dockerfile", "queries.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ctxDir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	common := []string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs"}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(buildah, append(append([]string{}, common...), args...)...)
		cmd.Dir = ctxDir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("bud", "--isolation", "chroot", "-t", "pg_hardening_exporter:test", "-f", "Dockerfile", ".")
	ctr := strings.TrimSpace(run("from", "--name", "pghe-image-test", "pg_hardening_exporter:test"))
	t.Cleanup(func() {
		_ = exec.Command(buildah, append(append([]string{}, common...), "rm", "--all")...).Run()
		_ = exec.Command(buildah, append(append([]string{}, common...), "rmi", "--all", "--force")...).Run()
	})
	out := run("run", "--isolation", "chroot", ctr, "--", "/bin/pg_hardening_exporter", "--version")
	if !strings.Contains(out, "pg_hardening_exporter, version 9.9.9-test") {
		t.Fatalf("--version in the image printed:\n%s", out)
	}
	if user := strings.TrimSpace(run("inspect", "--format", "{{.OCIv1.Config.User}}", "pg_hardening_exporter:test")); user != "65534:65534" {
		t.Fatalf("image runs as %q, want the unprivileged 65534:65534", user)
	}
}
