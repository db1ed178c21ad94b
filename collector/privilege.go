package collector

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// queryPermitted runs q and hands each row to scan. It returns false and no
// error when the role may not read what q reads (SQLSTATE 42501,
// insufficient_privilege): some views PostgreSQL grants to superusers only,
// not to pg_monitor, and a collector then says so instead of reporting 0.
// Rows are scanned before the error can be known, so callers keep what scan
// gathers and emit it only on true.
func queryPermitted(ctx context.Context, s *Scrape, q string, scan func(pgx.Rows) error) (bool, error) {
	rows, err := s.Conn.Query(ctx, q)
	if err == nil {
		for rows.Next() {
			if err = scan(rows); err != nil {
				break
			}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" {
		return false, nil
	}
	return err == nil, err
}
