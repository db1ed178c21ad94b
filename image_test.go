package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/certtest"
	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// buildahStore runs buildah against a store of its own in a temporary
// directory, so tests neither see nor leave images elsewhere.
type buildahStore struct {
	t      *testing.T
	bin    string
	common []string
}

func newBuildahStore(t *testing.T) *buildahStore {
	t.Helper()
	pgtest.Integration(t)
	bin, err := exec.LookPath("buildah")
	if err != nil {
		pgtest.Skip(t, "buildah", "make deps (scripts/install-deps.sh)")
	}
	store := t.TempDir()
	b := &buildahStore{t: t, bin: bin, common: []string{"--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs"}}
	t.Cleanup(func() {
		_ = b.cmd("", "rm", "--all").Run()
		_ = b.cmd("", "rmi", "--all", "--force").Run()
	})
	return b
}

func (b *buildahStore) cmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(b.bin, append(append([]string{}, b.common...), args...)...)
	cmd.Dir = dir
	return cmd
}

// run runs buildah in dir and returns its output; failing fails the test.
func (b *buildahStore) run(dir string, args ...string) string {
	b.t.Helper()
	out, err := b.cmd(dir, args...).CombinedOutput()
	if err != nil {
		b.t.Fatalf("buildah %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// imageContext stages what `make image` stages for one architecture: the
// Dockerfile, queries.yaml, the CA bundle and linux-ARCH/ with the binary.
func imageContext(t *testing.T, binary, arch string) string {
	t.Helper()
	bundle, err := os.ReadFile(hostCABundle)
	if err != nil {
		pgtest.Skip(t, "the CA bundle "+hostCABundle, "make deps (Debian's ca-certificates)")
	}
	dir := t.TempDir()
	copyInto(t, filepath.Join(dir, "ca-certificates.crt"), bundle)
	for _, f := range []string{"Dockerfile", "queries.yaml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		copyInto(t, filepath.Join(dir, f), b)
	}
	b, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	copyInto(t, filepath.Join(dir, "linux-"+arch, "pg_hardening_exporter"), b)
	return dir
}

// hostCABundle is what `make image` copies in (its CA_BUNDLE default).
const hostCABundle = "/etc/ssl/certs/ca-certificates.crt"

func copyInto(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// staticBinary builds the exporter for linux/amd64 the way make does.
func staticBinary(t *testing.T, version string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pg_hardening_exporter")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/prometheus/common/version.Version="+version, "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static build: %v\n%s", err, out)
	}
	return bin
}

// The image runs as a non-root user, trusts the CAs of its bundle for
// sslmode=verify-full, and resolves IANA zones in the receiver's windows.
func TestImage(t *testing.T) {
	b := newBuildahStore(t)
	ctx := imageContext(t, staticBinary(t, "9.9.9-test"), "amd64")
	b.run(ctx, "bud", "--isolation", "chroot", "--arch", "amd64", "--build-arg", "TARGETARCH=amd64", "-t", "pghe:test", "-f", "Dockerfile", ".")

	ctr := strings.TrimSpace(b.run("", "from", "pghe:test"))
	out := b.run("", "run", "--isolation", "chroot", ctr, "--", "/bin/pg_hardening_exporter", "--version")
	if !strings.Contains(out, "pg_hardening_exporter, version 9.9.9-test") {
		t.Fatalf("--version in the image printed:\n%s", out)
	}
	if user := strings.TrimSpace(b.run("", "inspect", "--format", "{{.OCIv1.Config.User}}", "pghe:test")); user != "65534:65534" {
		t.Fatalf("image runs as %q, want the unprivileged 65534:65534", user)
	}

	// A PostgreSQL whose certificate a CA of our own signed, and a layer on
	// the image that adds the CA to its bundle, as an operator adds a
	// private CA.
	certs := certtest.Write(t)
	s := pgtest.StartT(t, pgtest.Options{Conf: []string{"ssl = on", "ssl_cert_file = '" + certs.CertFile + "'", "ssl_key_file = '" + certs.KeyFile + "'"}})
	bundle, err := os.ReadFile(hostCABundle)
	if err != nil {
		t.Fatal(err)
	}
	layer := t.TempDir()
	copyInto(t, filepath.Join(layer, "ca-certificates.crt"), append(append(bundle, '\n'), certs.CAPEM...))
	copyInto(t, filepath.Join(layer, "remediate.yml"), []byte("windows:\n  nightly: {start: '02:00', end: '04:00', time_zone: America/New_York}\n"))
	copyInto(t, filepath.Join(layer, "Containerfile"), []byte("FROM pghe:test\n"+
		"COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"+
		"COPY remediate.yml /etc/pg_hardening_exporter/remediate.yml\n"))
	b.run(layer, "bud", "--isolation", "chroot", "-t", "pghe:test-ca", "-f", "Containerfile", ".")

	// verify-full checks the chain and that the name is the certificate's.
	dsn := strings.Replace(strings.Replace(s.SuperuserDSN("postgres"), "sslmode=disable", "sslmode=verify-full", 1), "127.0.0.1", "localhost", 1)
	if up := pgUpInImage(t, b, "pghe:test", dsn); up != "0" {
		t.Errorf("pg_up is %s in the image without the test CA; want 0, or the test proves nothing", up)
	}
	if up := pgUpInImage(t, b, "pghe:test-ca", dsn); up != "1" {
		t.Errorf("pg_up is %s with sslmode=verify-full and the CA in the image's bundle; want 1", up)
	}

	ctr = strings.TrimSpace(b.run("", "from", "pghe:test-ca"))
	out = b.run("", "run", "--isolation", "chroot", ctr, "--", "/bin/pg_hardening_exporter", "check-config",
		"--remediate.config=/etc/pg_hardening_exporter/remediate.yml")
	if !strings.Contains(out, "remediation configuration OK") {
		t.Fatalf("check-config of a window in America/New_York in the image printed:\n%s", out)
	}
}

// pgUpInImage runs the exporter in a container of image against dsn, scrapes
// it from the host (chroot isolation shares the host's network) and returns
// the value of pg_up.
func pgUpInImage(t *testing.T, b *buildahStore, image, dsn string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctr := strings.TrimSpace(b.run("", "from", image))
	cmd := b.cmd("", "run", "--isolation", "chroot", "--env", "DATA_SOURCE_NAME="+dsn, ctr, "--",
		"/bin/pg_hardening_exporter", "--web.listen-address="+addr)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			sc := bufio.NewScanner(strings.NewReader(string(body)))
			for sc.Scan() {
				if v, ok := strings.CutPrefix(sc.Text(), "pg_up "); ok {
					return v
				}
			}
			t.Fatalf("no pg_up in the image's /metrics:\n%s", body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the exporter in %s did not answer on %s within a minute: %v\n%s", image, addr, err, logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}
