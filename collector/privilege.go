package collector

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// queryPermitted runs q and hands each row to scan. It returns false and no
// error when the role may not read what q reads: some views PostgreSQL grants
// to superusers only, not to pg_monitor, and a collector then says so instead
// of reporting 0. The privileges on view and on the function behind it (a
// view's user needs EXECUTE on the functions it calls) are checked first, so
// that a refused query does not end in an error: every failed statement ends
// its transaction as a rollback in pg_stat_database, which the rule pack's
// rollback ratio would count. A refusal the check missed (SQLSTATE 42501) is
// still read as false. Rows are scanned before an error can be known, so
// callers keep what scan gathers and emit it only on true.
//
// The check's answer is remembered with the target's facts
// (target.Privileges), so it is asked again only when those are read again
// (a restart or configuration reload of the server, the discovery TTL, a
// reload of the exporter) or after a refusal the check missed.
func queryPermitted(ctx context.Context, s *Scrape, view, function, q string, scan func(pgx.Rows) error) (bool, error) {
	key := s.Database + "\x00" + view + "\x00" + function
	may, known := s.Facts.Privileges.Lookup(key)
	if !known {
		if err := s.Conn.QueryRow(ctx, privilegeCheck, view, function).Scan(&may); err != nil {
			return false, err
		}
		s.Facts.Privileges.Remember(key, may)
	}
	if !may {
		return false, nil
	}
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
		s.Facts.Privileges.Forget(key)
		return false, nil
	}
	return err == nil, err
}

// privilegeCheck asks whether the role may select from a view ($1) and
// execute the function that view calls ($2, with its argument types).
const privilegeCheck = `SELECT has_table_privilege($1, 'SELECT') AND has_function_privilege($2, 'EXECUTE')`
