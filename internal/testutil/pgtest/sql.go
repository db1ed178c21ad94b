package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DSN returns a URL for user/password on database db over TCP:
// postgres://user:password@127.0.0.1:port/db?sslmode=disable, with user,
// password and db escaped. An empty password is left out.
func (s *Server) DSN(user, password, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)),
		Path:     "/" + db,
		RawPath:  "/" + url.PathEscape(db),
		RawQuery: "sslmode=disable",
	}
	if password != "" {
		u.User = url.UserPassword(user, password)
	} else {
		u.User = url.User(user)
	}
	return u.String()
}

// SuperuserDSN returns the DSN of the superuser "postgres", with its
// password, over TCP. An empty db means "postgres".
func (s *Server) SuperuserDSN(db string) string {
	if db == "" {
		db = "postgres"
	}
	return s.DSN(Superuser, s.password, db)
}

// SuperuserPassword returns the random password of the superuser.
func (s *Server) SuperuserPassword() string { return s.password }

// Connect opens a superuser connection to db ("" means "postgres").
func (s *Server) Connect(ctx context.Context, db string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, s.SuperuserDSN(db))
	if err != nil {
		return nil, fmt.Errorf("pgtest: connect to %q on port %d: %w", db, s.Port, err)
	}
	return conn, nil
}

// Exec runs each statement as the superuser on db, one at a time and
// outside an explicit transaction, so statements such as CREATE DATABASE
// work. It stops at the first error, which names the statement.
func (s *Server) Exec(ctx context.Context, db string, sql ...string) error {
	conn, err := s.Connect(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for _, q := range sql {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("pgtest: %s: %w", abbreviate(q), err)
		}
	}
	return nil
}

// CreateMonitorRole makes name a LOGIN role with password whose only
// privilege is membership in pg_monitor (no superuser, createdb,
// createrole, replication or bypassrls), and returns its DSN for database
// "postgres". An existing role gets the password and attributes reset, so
// calling it again is fine.
func (s *Server) CreateMonitorRole(ctx context.Context, name, password string) (dsn string, err error) {
	conn, err := s.Connect(ctx, "postgres")
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())

	ident := pgx.Identifier{name}.Sanitize()
	attrs := "LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD " + quoteLiteral(password)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("pgtest: look up role %s: %w", ident, err)
	}
	if !exists {
		_, err := conn.Exec(ctx, "CREATE ROLE "+ident+" "+attrs)
		if err != nil && !isCode(err, "42710") { // duplicate_object: created concurrently
			return "", fmt.Errorf("pgtest: create role %s: %w", ident, err)
		}
		exists = err != nil
	}
	if exists {
		if _, err := conn.Exec(ctx, "ALTER ROLE "+ident+" "+attrs); err != nil {
			return "", fmt.Errorf("pgtest: alter role %s: %w", ident, err)
		}
	}
	if _, err := conn.Exec(ctx, "GRANT pg_monitor TO "+ident); err != nil {
		return "", fmt.Errorf("pgtest: grant pg_monitor to %s: %w", ident, err)
	}
	return s.DSN(name, password, "postgres"), nil
}

// CreateDatabase creates database name owned by the superuser. An existing
// database is left as it is.
func (s *Server) CreateDatabase(ctx context.Context, name string) error {
	conn, err := s.Connect(ctx, "postgres")
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("pgtest: look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil && !isCode(err, "42P04") { // duplicate_database
		return fmt.Errorf("pgtest: create database %s: %w", ident, err)
	}
	return nil
}

// quoteLiteral quotes v as an escape string literal, which means the same
// whatever standard_conforming_strings is set to.
func quoteLiteral(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `''`)
	return "E'" + v + "'"
}

func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

func abbreviate(q string) string {
	q = strings.Join(strings.Fields(q), " ")
	if len(q) > 200 {
		q = q[:200] + "..."
	}
	return q
}
