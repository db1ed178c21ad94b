package remediate

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// maxIdentifier is PostgreSQL's NAMEDATALEN-1: no database object has a
// longer name, so a longer label cannot name one.
const maxIdentifier = 63

// nameLabel returns label k of an alert after checking that it can be the
// name of a database object. The value is only ever compared against the
// catalog as a query parameter; it never becomes SQL text.
func nameLabel(labels map[string]string, k string) (string, error) {
	v, ok := labels[k]
	if !ok || v == "" {
		return "", fmt.Errorf("the alert has no %s label", k)
	}
	if len(v) > maxIdentifier {
		return "", fmt.Errorf("label %s is longer than %d bytes, the most a PostgreSQL name has", k, maxIdentifier)
	}
	if !utf8.ValidString(v) {
		return "", fmt.Errorf("label %s is not valid UTF-8", k)
	}
	for _, r := range v {
		if r == 0 || unicode.IsControl(r) {
			return "", fmt.Errorf("label %s contains control characters", k)
		}
	}
	return v, nil
}

// systemSchema reports schemas the receiver never touches, whatever the allowlists say.
func systemSchema(s string) bool {
	return s == "pg_catalog" || s == "information_schema" || strings.HasPrefix(s, "pg_toast") || strings.HasPrefix(s, "pg_temp")
}

// objectRef is what a table or index alert names, before the catalog is asked.
type objectRef struct {
	Database, Schema, Name string
}

func (o objectRef) String() string { return o.Schema + "." + o.Name }

// refFromLabels checks the labels of a table (nameKey "relname") or index
// ("indexrelname") alert and the allowlists that need no database. Tables
// are checked against allow.tables here; an index is checked against its
// table's name once the catalog has given it.
func refFromLabels(cfg *Config, labels map[string]string, nameKey string) (objectRef, error) {
	var ref objectRef
	var err error
	if ref.Database, err = nameLabel(labels, "datname"); err != nil {
		return ref, err
	}
	if ref.Schema, err = nameLabel(labels, "schemaname"); err != nil {
		return ref, err
	}
	if ref.Name, err = nameLabel(labels, nameKey); err != nil {
		return ref, err
	}
	if systemSchema(ref.Schema) {
		return ref, fmt.Errorf("schema %q is a system schema; the receiver never maintains system catalogs", ref.Schema)
	}
	if !anyMatch(cfg.Allow.databases, ref.Database) {
		return ref, fmt.Errorf("database %q is not in allow.databases", ref.Database)
	}
	if !anyMatch(cfg.Allow.schemas, ref.Schema) {
		return ref, fmt.Errorf("schema %q is not in allow.schemas", ref.Schema)
	}
	if nameKey == "relname" && !anyMatch(cfg.Allow.tables, ref.String()) {
		return ref, fmt.Errorf("table %q is not in allow.tables", ref.String())
	}
	return ref, nil
}

// relation is a table or index as the catalog describes it.
type relation struct {
	OID         uint32
	Schema      string
	Name        string
	Kind        string // pg_class.relkind
	Persistence string
	TableSchema string // the table itself, or the table of an index
	TableName   string
	MayMaintain bool // the session's role may VACUUM/ANALYZE/REINDEX it
}

// quoted is the relation's name as SQL, built from the catalog's names.
func (r *relation) quoted() string { return pgx.Identifier{r.Schema, r.Name}.Sanitize() }

func (r *relation) table() string { return r.TableSchema + "." + r.TableName }

const relationSQL = `
SELECT c.oid, n.nspname, c.relname, c.relkind::text, c.relpersistence::text, tn.nspname, t.relname,
       coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false)
       OR pg_has_role(t.relowner, 'USAGE') %s
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = c.oid
JOIN pg_class t ON t.oid = coalesce(i.indrelid, c.oid)
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE n.nspname = $1 AND c.relname = $2`

// MAINTAIN (PostgreSQL 17) lets a role that does not own a table vacuum,
// analyze and reindex it.
const maintainPrivilege = `OR has_table_privilege(t.oid, 'MAINTAIN')`

func serverMajor(conn *pgx.Conn) int {
	v := conn.PgConn().ParameterStatus("server_version")
	major, _ := strconv.Atoi(strings.SplitN(strings.SplitN(v, ".", 2)[0], " ", 2)[0])
	return major
}

var errNoRelation = errors.New("no such relation")

// lookupRelation finds ref in the catalog of the connected database.
func lookupRelation(ctx context.Context, conn *pgx.Conn, ref objectRef) (*relation, error) {
	extra := ""
	if serverMajor(conn) >= 17 {
		extra = maintainPrivilege
	}
	var r relation
	err := conn.QueryRow(ctx, fmt.Sprintf(relationSQL, extra), ref.Schema, ref.Name).Scan(
		&r.OID, &r.Schema, &r.Name, &r.Kind, &r.Persistence, &r.TableSchema, &r.TableName, &r.MayMaintain)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNoRelation
	}
	if err != nil {
		return nil, fmt.Errorf("catalog lookup: %w", err)
	}
	return &r, nil
}

// resolveRelation reads the object the alert names (its database, schema
// and the label nameKey), records it in the audit, connects to its database
// and resolves it to a relation of one of kinds, applying every check that
// needs the catalog. On success the caller owns conn.
func (ex *execution) resolveRelation(ctx context.Context, nameKey, kinds, verb string) (*pgx.Conn, *relation, *outcome) {
	ref, err := refFromLabels(ex.cfg, ex.labels, nameKey)
	ex.rec.Database, ex.rec.Object = truncate(ref.Database, 80), truncate(ref.String(), 160)
	if err != nil {
		return nil, nil, ptr(refused("%v", err))
	}
	conn, o := ex.connectDB(ctx, ref.Database)
	if o != nil {
		return nil, nil, o
	}
	rel, err := lookupRelation(ctx, conn, ref)
	var bad *outcome
	switch {
	case errors.Is(err, errNoRelation):
		o := refused("no relation %s in database %s (names are matched exactly, as the catalog spells them)", ref, ref.Database)
		bad = &o
	case err != nil:
		o := failed(err)
		bad = &o
	case !strings.Contains(kinds, rel.Kind):
		o := refused("%s is a relation of kind %q; %s works on kinds %q", ref, rel.Kind, ex.action(), kinds)
		bad = &o
	case rel.Persistence == "t":
		o := refused("%s is a temporary table of another session", ref)
		bad = &o
	case systemSchema(rel.TableSchema):
		o := refused("%s belongs to a system catalog", ref)
		bad = &o
	case !anyMatch(ex.cfg.Allow.tables, rel.table()):
		o := refused("table %q is not in allow.tables", rel.table())
		bad = &o
	case !rel.MayMaintain:
		o := refused("the receiver's role may not %s %s: make it the table's owner (or grant MAINTAIN on PostgreSQL 17 and later)", verb, rel.table())
		bad = &o
	}
	if bad != nil {
		closeConn(conn)
		return nil, nil, bad
	}
	ex.rec.Object = rel.Schema + "." + rel.Name
	return conn, rel, nil
}

// timeZero is "no record in the database" for coolingDown.
var timeZero time.Time
