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
	"strings"
	"testing"
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
}
