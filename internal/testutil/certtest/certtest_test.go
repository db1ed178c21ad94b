package certtest_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"testing"

	"github.com/pghardening/pg_hardening_exporter/internal/testutil/certtest"
)

// The server certificate chains to the CA in CAFile for both names a test
// dials, and its key pairs with it.
func TestServerCertificateChainsToTheCA(t *testing.T) {
	f := certtest.Write(t)
	pair, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(f.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatalf("%s holds no certificate", f.CAFile)
	}
	for _, name := range []string{"localhost", "127.0.0.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: x509.NewCertPool(), DNSName: "localhost"}); err == nil {
		t.Error("the server certificate verifies without its CA")
	}
}
