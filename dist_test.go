//go:build release

package main

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// distDir runs `make dist` once into a temporary directory, with a version
// the test can recognise, and returns the directory.
func distDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "dist", "DIST_DIR="+dir, "VERSION=9.9.9-dist")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}
	return dir
}

// readTarball returns the regular files of a .tar.gz by name, with contents.
func readTarball(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s: %s is owned by %d:%d, want 0:0", path, h.Name, h.Uid, h.Gid)
		}
		if h.Typeflag == tar.TypeReg {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			files[h.Name] = b
		}
	}
}

func TestDistTarballsAndChecksums(t *testing.T) {
	dir := distDir(t)
	sums, err := os.ReadFile(filepath.Join(dir, "sha256sums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, file, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("sha256sums.txt line %q is not sha256sum's format", line)
		}
		listed[file] = sum
	}
	// What every tarball must carry beside the binary: the repository's
	// rules, dashboards and example configs, as committed.
	want := []string{"README.md", "LICENSE", "NOTICE", "queries.yaml", "docs/configuration.md", "examples/exporter.yml", "examples/remediate.yml"}
	for _, glob := range []string{"rules/*.yml", "dashboards/*.json"} {
		m, _ := filepath.Glob(glob)
		if len(m) == 0 {
			t.Fatalf("no %s in the repository", glob)
		}
		want = append(want, m...)
	}
	for _, arch := range []struct{ goarch string }{{"amd64"}, {"arm64"}} {
		name := "pg_hardening_exporter-9.9.9-dist.linux-" + arch.goarch
		tarball := filepath.Join(dir, name+".tar.gz")
		b, err := os.ReadFile(tarball)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := listed[name+".tar.gz"]; got != hex.EncodeToString(sum[:]) {
			t.Errorf("sha256sums.txt has %q for %s, the file hashes to %x", got, name, sum)
		}
		files := readTarball(t, tarball)
		for _, f := range want {
			repo, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := files[name+"/"+f]; !ok {
				t.Errorf("%s lacks %s", name, f)
			} else if string(got) != string(repo) {
				t.Errorf("%s: %s differs from the repository's", name, f)
			}
		}
		bin, ok := files[name+"/pg_hardening_exporter"]
		if !ok {
			t.Fatalf("%s lacks the binary", name)
		}
		binPath := filepath.Join(dir, name, "pg_hardening_exporter")
		ef, err := elf.Open(binPath)
		if err != nil {
			t.Fatal(err)
		}
		wantMachine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch.goarch]
		if ef.Machine != wantMachine {
			t.Errorf("%s: binary is for %v, want %v", name, ef.Machine, wantMachine)
		}
		for _, p := range ef.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s: binary is dynamically linked; want static (CGO_ENABLED=0)", name)
			}
		}
		ef.Close()
		if onDisk, err := os.ReadFile(binPath); err != nil || string(onDisk) != string(bin) {
			t.Errorf("%s: the tarball's binary differs from the one built", name)
		}
		if arch.goarch == "amd64" {
			out, err := exec.Command(binPath, "--version").CombinedOutput()
			if err != nil {
				t.Fatalf("--version: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), "version 9.9.9-dist (") || strings.Contains(string(out), "revision: unknown") ||
				strings.Contains(string(out), "build date:       \n") {
				t.Errorf("--version of the dist binary lacks version, revision or date:\n%s", out)
			}
		}
	}
	// The same Dockerfile builds the arm64 image from the arm64 binary;
	// with only COPY steps it needs no emulation. Running it would.
	t.Run("arm64 image", func(t *testing.T) {
		b := newBuildahStore(t)
		ctx := imageContext(t, filepath.Join(dir, "pg_hardening_exporter-9.9.9-dist.linux-arm64", "pg_hardening_exporter"), "arm64")
		b.run(ctx, "bud", "--isolation", "chroot", "--arch", "arm64", "--build-arg", "TARGETARCH=arm64", "-t", "pghe:arm64", "-f", "Dockerfile", ".")
		if arch := strings.TrimSpace(b.run("", "inspect", "--format", "{{.OCIv1.Architecture}}", "pghe:arm64")); arch != "arm64" {
			t.Fatalf("image architecture %q, want arm64", arch)
		}
		ctr := strings.TrimSpace(b.run("", "from", "--arch", "arm64", "pghe:arm64"))
		mnt := strings.TrimSpace(b.run("", "mount", ctr))
		ef, err := elf.Open(filepath.Join(mnt, "bin", "pg_hardening_exporter"))
		if err != nil {
			t.Fatal(err)
		}
		defer ef.Close()
		if ef.Machine != elf.EM_AARCH64 {
			t.Fatalf("the arm64 image's binary is for %v", ef.Machine)
		}
		if _, err := os.Stat(filepath.Join(mnt, "etc", "ssl", "certs", "ca-certificates.crt")); err != nil {
			t.Fatalf("the arm64 image has no CA bundle: %v", err)
		}
		b.run("", "umount", ctr)
	})
	t.Run("deb", func(t *testing.T) { testDeb(t, dir) })
	t.Run("rpm", func(t *testing.T) { testRPM(t, dir) })
}

const pkgName = "pg-hardening-exporter"

// The package's configuration files, which dpkg keeps on removal and rpm
// marks config(noreplace).
var pkgConfigFiles = []string{
	"/etc/pg_hardening_exporter/exporter.yml", "/etc/pg_hardening_exporter/remediate.yml",
	"/etc/default/pg_hardening_exporter", "/etc/default/pg_hardening_remediate",
}

func dpkgStatus(t *testing.T) string {
	out, _ := exec.Command("dpkg-query", "-W", "-f=${db:Status-Abbrev}", pkgName).Output()
	return strings.TrimSpace(string(out))
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// testDeb installs the amd64 .deb on this machine, runs the installed
// binary's check-config as the package's user on the shipped configuration,
// removes the package (only configuration files stay) and purges it.
func testDeb(t *testing.T, dir string) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		pgtest.Skip(t, "dpkg", "a Debian machine")
	}
	if os.Geteuid() != 0 {
		if pgtest.CI() {
			t.Fatal("installing the .deb needs root")
		}
		t.Skip("installing the .deb needs root")
	}
	if st := dpkgStatus(t); st != "" && !strings.HasPrefix(st, "un") {
		t.Skipf("%s is already on this machine (%s); the test will not replace it", pkgName, st)
	}
	debs, _ := filepath.Glob(filepath.Join(dir, pkgName+"_*_amd64.deb"))
	if len(debs) != 1 {
		t.Fatalf("want one amd64 .deb in %s, found %v", dir, debs)
	}
	deb := debs[0]
	t.Cleanup(func() { _ = exec.Command("dpkg", "--purge", pkgName).Run() })
	mustRun(t, "dpkg", "-i", deb)

	// What the package holds, from the .deb itself.
	var files []string
	list := mustRun(t, "sh", "-c", "dpkg-deb --fsys-tarfile \""+deb+"\" | tar -t")
	for _, f := range strings.Split(strings.TrimSpace(list), "\n") {
		if f = strings.TrimPrefix(f, "."); f != "" && !strings.HasSuffix(f, "/") {
			files = append(files, f)
		}
	}
	for _, f := range append([]string{"/usr/bin/pg_hardening_exporter", "/usr/lib/systemd/system/pg_hardening_exporter.service",
		"/usr/lib/systemd/system/pg_hardening_remediate.service"}, pkgConfigFiles...) {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("after dpkg -i: %v", err)
		}
	}
	rules, _ := filepath.Glob("rules/*.yml")
	dashboards, _ := filepath.Glob("dashboards/*.json")
	for _, f := range append(rules, dashboards...) {
		repo, _ := os.ReadFile(f)
		got, err := os.ReadFile(filepath.Join("/usr/share/pg_hardening_exporter", f))
		if err != nil || string(got) != string(repo) {
			t.Errorf("/usr/share/pg_hardening_exporter/%s is not the repository's (%v)", f, err)
		}
	}
	mustRun(t, "id", "pg_exporter")
	// systemd reads the installed units without complaint (it checks the
	// directives and that ExecStart names an executable).
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		pgtest.Skip(t, "systemd-analyze", "apt-get install systemd")
	}
	// It exits 0 on an unknown directive and only says so.
	if out := mustRun(t, "systemd-analyze", "verify", "/usr/lib/systemd/system/pg_hardening_exporter.service",
		"/usr/lib/systemd/system/pg_hardening_remediate.service"); strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify of the installed units:\n%s", out)
	}
	// Nothing is enabled: no unit is wanted by a target.
	for _, unit := range []string{"pg_hardening_exporter.service", "pg_hardening_remediate.service"} {
		if m, _ := filepath.Glob("/etc/systemd/system/*.wants/" + unit); len(m) > 0 {
			t.Errorf("installing enabled %s: %v", unit, m)
		}
	}

	check := exec.Command("runuser", "-u", "pg_exporter", "--", "/usr/bin/pg_hardening_exporter", "check-config",
		"--config.file=/etc/pg_hardening_exporter/exporter.yml", "--remediate.config=/etc/pg_hardening_exporter/remediate.yml")
	check.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := check.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "exporter configuration valid") || !strings.Contains(string(out), "remediation configuration OK") {
		t.Fatalf("check-config of the shipped configuration as pg_exporter: %v\n%s", err, out)
	}

	mustRun(t, "dpkg", "-r", pkgName)
	if st := dpkgStatus(t); st != "rc" {
		t.Errorf("after dpkg -r the status is %q, want rc (configuration files remain)", st)
	}
	for _, f := range files {
		_, err := os.Stat(f)
		if slices.Contains(pkgConfigFiles, f) {
			if err != nil {
				t.Errorf("dpkg -r removed the configuration file %s", f)
			}
		} else if err == nil {
			t.Errorf("dpkg -r left %s", f)
		}
	}
	mustRun(t, "dpkg", "--purge", pkgName)
	for _, f := range append(pkgConfigFiles, "/var/lib/pg_hardening_exporter") {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("dpkg --purge left %s", f)
		}
	}
}

// testRPM reads the amd64 .rpm's files, their flags and its scripts.
func testRPM(t *testing.T, dir string) {
	if _, err := exec.LookPath("rpm"); err != nil {
		pgtest.Skip(t, "rpm", "make deps (Debian's rpm package)")
	}
	rpms, _ := filepath.Glob(filepath.Join(dir, pkgName+"-*.x86_64.rpm"))
	if len(rpms) != 1 {
		t.Fatalf("want one x86_64 .rpm in %s, found %v", dir, rpms)
	}
	flags := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(mustRun(t, "rpm", "-qp", "--nosignature", "--qf", "[%{FILEFLAGS:fflags} %{FILEMODES:perms} %{FILENAMES}\\n]", rpms[0])), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 { // no flags
			f = []string{"", f[0], f[1]}
		}
		if len(f) != 3 {
			t.Fatalf("rpm file line %q", line)
		}
		flags[f[2]] = f[0] + " " + f[1]
	}
	for _, f := range pkgConfigFiles {
		if got := flags[f]; !strings.HasPrefix(got, "cn ") {
			t.Errorf("%s in the .rpm has flags %q, want cn (config, noreplace)", f, got)
		}
	}
	if got := flags["/usr/bin/pg_hardening_exporter"]; got != " -rwxr-xr-x" {
		t.Errorf("/usr/bin/pg_hardening_exporter in the .rpm: %q, want a plain 0755 file", got)
	}
	rules, _ := filepath.Glob("rules/*.yml")
	for _, f := range append(rules, "/usr/lib/systemd/system/pg_hardening_exporter.service", "/usr/lib/systemd/system/pg_hardening_remediate.service") {
		if !strings.HasPrefix(f, "/") {
			f = "/usr/share/pg_hardening_exporter/" + f
		}
		if _, ok := flags[f]; !ok {
			t.Errorf("the .rpm lacks %s", f)
		}
	}
	scripts := mustRun(t, "rpm", "-qp", "--nosignature", "--scripts", rpms[0])
	if !strings.Contains(scripts, "useradd --system") {
		t.Errorf("the .rpm's scripts create no system user:\n%s", scripts)
	}
	if strings.Contains(scripts, "systemctl enable") || strings.Contains(scripts, "systemctl start") {
		t.Errorf("the .rpm's scripts enable or start a service:\n%s", scripts)
	}
}
