package main

import (
	"debug/buildinfo"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/version"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// setVersion replaces the version variables for one test.
func setVersion(t *testing.T, v, rev, date string) {
	t.Helper()
	old := [3]string{version.Version, version.Revision, version.BuildDate}
	version.Version, version.Revision, version.BuildDate = v, rev, date
	t.Cleanup(func() { version.Version, version.Revision, version.BuildDate = old[0], old[1], old[2] })
}

func TestFillVersionFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	for _, tc := range []struct {
		name                  string
		stamped               [3]string
		main                  string
		settings              []debug.BuildSetting
		wantV, wantR, wantDat string
	}{
		{"go install module@version", [3]string{}, "v1.2.3", nil, "1.2.3", "", ""},
		{"go build in a modified checkout", [3]string{}, "v0.1.1-0.20261201100000-0123456789ab+dirty", vcs,
			"0.1.1-0.20261201100000-0123456789ab+dirty", "0123456789abcdef0123456789abcdef01234567-modified", "2026-12-01T10:00:00Z"},
		{"no version known", [3]string{}, "(devel)", nil, "devel", "", ""},
		{"-ldflags win", [3]string{"0.1.0", "abc1234", "20261206-05:00:00"}, "v9.9.9", vcs, "0.1.0", "abc1234", "20261206-05:00:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setVersion(t, tc.stamped[0], tc.stamped[1], tc.stamped[2])
			fillVersion(&debug.BuildInfo{Main: debug.Module{Path: "github.com/pghardening/pg_hardening_exporter", Version: tc.main}, Settings: tc.settings})
			if version.Version != tc.wantV || version.Revision != tc.wantR || version.BuildDate != tc.wantDat {
				t.Fatalf("got version %q revision %q date %q, want %q %q %q",
					version.Version, version.Revision, version.BuildDate, tc.wantV, tc.wantR, tc.wantDat)
			}
		})
	}
}

// A plain `go build` in a git checkout prints the commit and its time in
// --version, with no -ldflags.
func TestPlainGoBuildStampsRevision(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs git; skipped by -short")
	}
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): the toolchain records no commit", err)
	}
	commitTime, err := exec.Command("git", "show", "-s", "--format=%cI", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "pghe")
	// -buildvcs=true is the toolchain's default, named because a GOFLAGS
	// in the environment may turn it off.
	if out, err := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if bi, err := buildinfo.ReadFile(bin); err != nil {
		t.Fatal(err)
	} else if !slices.ContainsFunc(bi.Settings, func(s debug.BuildSetting) bool { return s.Key == "vcs.revision" }) {
		// The toolchain looks for a .git directory; a git worktree has a .git file.
		msg := "the toolchain recorded no commit in this checkout (a git worktree?)"
		if pgtest.CI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v\n%s", err, out)
	}
	got := string(out)
	if !strings.Contains(got, "revision: "+strings.TrimSpace(string(rev))) {
		t.Errorf("--version does not name the commit %s:\n%s", strings.TrimSpace(string(rev)), got)
	}
	if strings.Contains(got, "version  (") {
		t.Errorf("--version has an empty version:\n%s", got)
	}
	// git prints the committer's zone; the toolchain records UTC.
	when, err := time.Parse(time.RFC3339, strings.TrimSpace(string(commitTime)))
	if err != nil {
		t.Fatal(err)
	}
	if want := "build date:       " + when.UTC().Format(time.RFC3339); !strings.Contains(got, want) {
		t.Errorf("--version lacks %q:\n%s", want, got)
	}
}
