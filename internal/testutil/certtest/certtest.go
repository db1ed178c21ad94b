// Package certtest writes a test certificate authority and a server
// certificate it signed, for tests that serve or connect over TLS.
package certtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/pgtest"
)

// Files are the PEM files Write made, and the CA certificate's PEM.
type Files struct {
	CAPEM    []byte
	CAFile   string // the CA certificate, for a client_ca_file or a trust bundle
	CertFile string // a server certificate for localhost and 127.0.0.1
	KeyFile  string // the server certificate's key
}

// Write makes a CA and a server certificate for localhost and 127.0.0.1
// signed by it, valid for an hour either side of now, in a new directory
// that a PostgreSQL running as pgtest's unprivileged user can read: the
// files are mode 0600 and, when the test runs as root, owned by that user,
// as PostgreSQL wants of its key.
func Write(tb testing.TB) Files {
	tb.Helper()
	must := func(what string, err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("certtest: %s: %v", what, err)
		}
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must("CA key", err)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pg_hardening_exporter test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must("CA certificate", err)
	caCert, err := x509.ParseCertificate(caDER)
	must("CA certificate", err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must("server key", err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	must("server certificate", err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	must("server key", err)

	dir, err := os.MkdirTemp("", "certtest-")
	must("directory", err)
	tb.Cleanup(func() { os.RemoveAll(dir) })
	must("directory", os.Chmod(dir, 0o755))
	f := Files{
		CAPEM:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		CAFile:   filepath.Join(dir, "ca.crt"),
		CertFile: filepath.Join(dir, "server.crt"),
		KeyFile:  filepath.Join(dir, "server.key"),
	}
	for path, data := range map[string][]byte{
		f.CAFile:   f.CAPEM,
		f.CertFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		f.KeyFile:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		must("write "+path, os.WriteFile(path, data, 0o600))
		if os.Geteuid() == 0 {
			must("chown "+path, os.Chown(path, pgtest.UnprivilegedUID, pgtest.UnprivilegedGID))
		}
	}
	return f
}
