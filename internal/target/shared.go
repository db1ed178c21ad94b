package target

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Pools are the open pools of one Manager. Targets whose connection settings
// differ only in the database share one pool, so connection.max_connections
// caps what the exporter opens to a server as one user, however many of its
// databases are scraped as targets of their own. A shared pool is counted:
// it closes when the last target using it closes.
type Pools struct {
	mu    sync.Mutex
	pools []*Pool // in the order they were opened
}

// get returns the open pool for cfg (whose Database is ignored), or opens
// one, and counts one more user of it.
func (s *Pools) get(cfg *pgx.ConnConfig, max int, idleTTL time.Duration) *Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pools {
		if p.max == max && p.idleTTL == idleTTL && SameServer(p.cfg, cfg) {
			p.refs++
			return p
		}
	}
	shared := cfg.Copy()
	shared.Database = "" // each target names its own database on Acquire
	p := NewPool(shared, max, idleTTL)
	p.Server = s.uniqueName(serverName(cfg))
	p.refs = 1
	s.pools = append(s.pools, p)
	return p
}

// uniqueName keeps the Server names of open pools apart: two pools to one
// server as one user (they differ in password, TLS or options) get "#2"...
func (s *Pools) uniqueName(base string) string {
	taken := map[string]bool{}
	for _, p := range s.pools {
		taken[p.Server] = true
	}
	name := base
	for n := 2; taken[name]; n++ {
		name = fmt.Sprintf("%s #%d", base, n)
	}
	return name
}

// put counts one user fewer of p and closes it after the last.
func (s *Pools) put(p *Pool) {
	s.mu.Lock()
	p.refs--
	last := p.refs <= 0
	if last {
		for i, x := range s.pools {
			if x == p {
				s.pools = append(s.pools[:i], s.pools[i+1:]...)
				break
			}
		}
	}
	s.mu.Unlock()
	if last {
		p.Close()
	}
}

// PoolRefs is an open pool and how many targets use it.
type PoolRefs struct {
	*Pool
	Targets int
}

// List returns the open pools in the order they were opened.
func (s *Pools) List() []PoolRefs {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PoolRefs, len(s.pools))
	for i, p := range s.pools {
		out[i] = PoolRefs{Pool: p, Targets: p.refs}
	}
	return out
}

// serverName names a pool without secrets: user@host:port, every host of a
// multi-host connection string listed.
func serverName(cfg *pgx.ConnConfig) string {
	hosts := []string{hostPort(cfg.Host, cfg.Port)}
	for _, f := range cfg.Fallbacks {
		if hp := hostPort(f.Host, f.Port); hp != hosts[len(hosts)-1] {
			hosts = append(hosts, hp)
		}
	}
	return cfg.User + "@" + strings.Join(hosts, ",")
}

func hostPort(host string, port uint16) string {
	if strings.HasPrefix(host, "/") {
		host = "unix:" + host
	}
	return fmt.Sprintf("%s:%d", host, port)
}

// SameServer reports whether a and b differ at most in the database: the same
// hosts, ports, user, password, TLS, run-time parameters, timeouts and hooks.
// Functions count as the same when they are the same code (pgx builds its
// dialer and validators afresh for every parsed string).
func SameServer(a, b *pgx.ConnConfig) bool {
	x, y := *a, *b
	x.Database, y.Database = "", ""
	return sameValue(reflect.ValueOf(x), reflect.ValueOf(y))
}

var (
	tlsConfigType = reflect.TypeFor[*tls.Config]()
	pgconnConfig  = reflect.TypeFor[pgconn.Config]()
)

func sameValue(a, b reflect.Value) bool {
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Func:
		return a.IsNil() == b.IsNil() && (a.IsNil() || a.Pointer() == b.Pointer())
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() || a.Pointer() == b.Pointer() {
			return a.IsNil() == b.IsNil()
		}
		if a.Type() == tlsConfigType {
			return sameTLS(a.Interface().(*tls.Config), b.Interface().(*tls.Config))
		}
		return sameValue(a.Elem(), b.Elem())
	case reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		// A tracer or handler value: the same one, not an equal-looking one.
		ea, eb := a.Elem(), b.Elem()
		if ea.Type() != eb.Type() {
			return false
		}
		if ea.Kind() == reflect.Pointer {
			return ea.Pointer() == eb.Pointer()
		}
		return ea.Comparable() && ea.Equal(eb)
	case reflect.Struct:
		for i := range a.NumField() {
			f := a.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if a.Type() == pgconnConfig && f.Name == "Database" {
				continue
			}
			if !sameValue(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			vb := b.MapIndex(k)
			if !vb.IsValid() || !sameValue(a.MapIndex(k), vb) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameValue(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	default:
		return a.Comparable() && a.Equal(b)
	}
}

// sameTLS compares what pgx sets from sslmode, sslrootcert, sslcert, sslkey
// and sslsni; pgx reads the files afresh for every parsed string.
func sameTLS(a, b *tls.Config) bool {
	if a.ServerName != b.ServerName || a.InsecureSkipVerify != b.InsecureSkipVerify ||
		a.MinVersion != b.MinVersion || a.MaxVersion != b.MaxVersion || a.Renegotiation != b.Renegotiation ||
		!sameValue(reflect.ValueOf(a.VerifyPeerCertificate), reflect.ValueOf(b.VerifyPeerCertificate)) ||
		!sameValue(reflect.ValueOf(a.VerifyConnection), reflect.ValueOf(b.VerifyConnection)) ||
		!sameValue(reflect.ValueOf(a.GetClientCertificate), reflect.ValueOf(b.GetClientCertificate)) {
		return false
	}
	if (a.RootCAs == nil) != (b.RootCAs == nil) || (a.RootCAs != nil && !a.RootCAs.Equal(b.RootCAs)) {
		return false
	}
	if len(a.Certificates) != len(b.Certificates) {
		return false
	}
	for i := range a.Certificates {
		ca, cb := a.Certificates[i].Certificate, b.Certificates[i].Certificate
		if len(ca) != len(cb) {
			return false
		}
		for j := range ca {
			if !bytes.Equal(ca[j], cb[j]) {
				return false
			}
		}
	}
	return true
}
