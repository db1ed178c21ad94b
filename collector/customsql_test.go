package collector

import (
	"slices"
	"strings"
	"testing"
)

func TestSelectColumns(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want []string // nil: the names cannot be known
	}{
		{"SELECT a, b AS c, t.d, e::float8, f::numeric(10,2) FROM t", []string{"a", "c", "d", "e", "f"}},
		{"select current_database() datname, count(*) AS n from pg_class", []string{"datname", "n"}},
		{`SELECT "Mixed Case", x AS "Quoted" FROM t`, []string{"Mixed Case", "Quoted"}},
		{"SELECT DISTINCT a FROM t", []string{"a"}},
		{"SELECT CASE WHEN x THEN 1 ELSE 0 END AS flag, 'a,b' AS s, $$x, y$$ AS d FROM t", []string{"flag", "s", "d"}},
		{"SELECT a -- comment, b\n, /* c, */ b FROM t", []string{"a", "b"}},
		{"SELECT substring(x FROM 'a') AS s, y FROM t", []string{"s", "y"}},
		{"SELECT 1 AS one", []string{"one"}},
		{"SELECT a FROM t UNION SELECT b FROM u", []string{"a"}},
		// unknown: no alias, star, WITH, DISTINCT ON, CASE without alias, multi-word cast
		{"SELECT count(*) FROM t", nil},
		{"SELECT * FROM t", nil},
		{"SELECT t.* FROM t", nil},
		{"WITH x AS (SELECT 1 AS a) SELECT a FROM x", nil},
		{"SELECT DISTINCT ON (a) a FROM t", nil},
		{"SELECT CASE WHEN x THEN 1 ELSE 0 END FROM t", nil},
		{"SELECT x::double precision FROM t", nil},
		{"SELECT a + b FROM t", nil},
		{"SELECT 'unterminated", nil},
		{"", nil},
	} {
		got, ok := selectColumns(tc.sql)
		if tc.want == nil {
			if ok {
				t.Errorf("%q: got %v, want unknown", tc.sql, got)
			}
			continue
		}
		if !ok || !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %v (ok %v), want %v", tc.sql, got, ok, tc.want)
		}
	}
}

// FuzzSelectColumns: any input is either understood, giving non-empty names,
// or declared unknown; nothing panics.
func FuzzSelectColumns(f *testing.F) {
	for _, s := range []string{"SELECT a, b AS c FROM t", "SELECT E'a\\'b' AS x", "SELECT $tag$x$tag$ AS y", `SELECT "a""b" FROM t`, "SELECT /* /* */ */ a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		cols, ok := selectColumns(sql)
		if !ok {
			return
		}
		if len(cols) == 0 {
			t.Fatalf("%q: ok with no columns", sql)
		}
		for _, c := range cols {
			if c == "" && !strings.Contains(sql, `""`) {
				t.Fatalf("%q: empty column name in %v", sql, cols)
			}
		}
	})
}
