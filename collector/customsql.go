package collector

import (
	"errors"
	"strings"
)

// selectColumns returns the output column names of a simple
// "SELECT a, b AS c, t.d, e::float8 FROM ..." query, so queries.yaml can be
// checked against its metrics list when it is loaded. ok is false whenever the
// names cannot be known for sure (WITH, *, DISTINCT ON, expressions without an
// alias...): the columns are then checked against the result at run time.
func selectColumns(sql string) (cols []string, ok bool) {
	toks, ok := sqlTokens(sql)
	if !ok || len(toks) == 0 || !toks[0].is("select") {
		return nil, false
	}
	i := 1
	if i < len(toks) && toks[i].is("distinct") {
		if i+1 < len(toks) && toks[i+1].is("on") {
			return nil, false
		}
		i++
	} else if i < len(toks) && toks[i].is("all") {
		i++
	}
	depth := 0
	var item []sqlToken
	flush := func() bool {
		name, ok := itemName(item)
		if !ok {
			return false
		}
		cols = append(cols, name)
		item = item[:0]
		return true
	}
	for ; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == '(' || t.kind == '[':
			depth++
		case t.kind == ')' || t.kind == ']':
			depth--
		}
		if depth == 0 {
			if t.kind == ',' {
				if !flush() {
					return nil, false
				}
				continue
			}
			if t.kind == ';' || t.kind == 'i' && selectListEnd[t.text] {
				break
			}
		}
		item = append(item, t)
	}
	if depth != 0 || !flush() {
		return nil, false
	}
	return cols, true
}

// selectListEnd are the keywords that end a SELECT list at depth 0.
var selectListEnd = map[string]bool{
	"from": true, "where": true, "group": true, "having": true, "order": true, "limit": true,
	"offset": true, "union": true, "intersect": true, "except": true, "window": true,
	"fetch": true, "for": true, "into": true,
}

// notAlias are words that end an expression rather than name it, so
// "CASE ... END" is not read as an alias "end".
var notAlias = map[string]bool{
	"end": true, "then": true, "else": true, "when": true, "case": true, "and": true, "or": true,
	"not": true, "is": true, "null": true, "true": true, "false": true, "in": true, "like": true,
	"ilike": true, "between": true, "similar": true, "as": true, "asc": true, "desc": true,
	"over": true, "filter": true, "within": true, "collate": true, "at": true, "zone": true,
	"distinct": true, "all": true, "any": true, "some": true, "array": true, "row": true,
	"precision": true, "varying": true, "without": true, "with": true, "time": true,
	"interval": true, "timestamp": true, "date": true,
}

func itemName(item []sqlToken) (string, bool) {
	n := len(item)
	if n == 0 {
		return "", false
	}
	last := item[n-1]
	// expr AS name
	if n >= 3 && item[n-2].is("as") && last.isName() {
		return last.text, true
	}
	// column or table.column
	if chain(item) {
		return last.text, true
	}
	// column::type (one word of type, with an optional modifier in parentheses)
	for p, t := range item {
		if t.kind == 'p' && t.text == "::" {
			if !chain(item[:p]) || !simpleType(item[p+1:]) {
				return "", false
			}
			return item[p-1].text, true
		}
	}
	// expr alias: a bare alias follows a closing parenthesis, a literal or a name.
	if n >= 2 && last.isName() && (last.kind == 'q' || !notAlias[last.text]) {
		prev := item[n-2]
		if prev.kind == ')' || prev.kind == 's' || prev.kind == 'n' || prev.isName() && (prev.kind == 'q' || !notAlias[prev.text]) {
			return last.text, true
		}
	}
	return "", false
}

// chain reports whether toks is name or name.name[.name].
func chain(toks []sqlToken) bool {
	if len(toks) == 0 || len(toks)%2 == 0 {
		return false
	}
	for i, t := range toks {
		if i%2 == 0 && !(t.isName() && (t.kind == 'q' || !notAlias[t.text])) {
			return false
		}
		if i%2 == 1 && t.kind != '.' {
			return false
		}
	}
	return true
}

// simpleType accepts "float8", "numeric(10,2)" or "text[]".
func simpleType(toks []sqlToken) bool {
	if len(toks) == 0 || !toks[0].isName() {
		return false
	}
	rest := toks[1:]
	if len(rest) >= 2 && rest[0].kind == '[' && rest[1].kind == ']' {
		rest = rest[2:]
	}
	if len(rest) == 0 {
		return true
	}
	if rest[0].kind != '(' || rest[len(rest)-1].kind != ')' {
		return false
	}
	for _, t := range rest[1 : len(rest)-1] {
		if t.kind != 'n' && t.kind != ',' {
			return false
		}
	}
	return true
}

// oneStatement checks that sql is a single statement: no ';' before its end
// outside strings, quoted names, dollar quotes and comments (a trailing one
// is fine). The server refuses a second statement anyway (custom queries run
// through the extended protocol); this says so when the file loads.
func oneStatement(sql string) error {
	toks, ok := sqlTokens(sql)
	if !ok {
		return errors.New("cannot be split into statements: a string, quoted name, dollar quote or comment is not closed; close it")
	}
	for i, t := range toks {
		if t.kind == ';' && i < len(toks)-1 {
			return errors.New("holds more than one statement; a custom query is one SELECT (a ';' may only end it)")
		}
	}
	return nil
}

type sqlToken struct {
	kind byte // 'i' word (lowercased), 'q' quoted name, 's' string, 'n' number, 'p' operator, or the punctuation itself
	text string
}

func (t sqlToken) is(word string) bool { return t.kind == 'i' && t.text == word }
func (t sqlToken) isName() bool        { return t.kind == 'i' || t.kind == 'q' }

// sqlTokens splits sql into tokens, dropping comments. ok is false for input
// it does not understand (an unterminated string, say).
func sqlTokens(sql string) (toks []sqlToken, ok bool) {
	s := sql
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case strings.HasPrefix(s[i:], "--"):
			j := strings.IndexByte(s[i:], '\n')
			if j < 0 {
				i = len(s)
			} else {
				i += j + 1
			}
		case strings.HasPrefix(s[i:], "/*"):
			depth := 0
			j := i
			for j < len(s) {
				if strings.HasPrefix(s[j:], "/*") {
					depth++
					j += 2
				} else if strings.HasPrefix(s[j:], "*/") {
					depth--
					j += 2
					if depth == 0 {
						break
					}
				} else {
					j++
				}
			}
			if depth != 0 {
				return nil, false
			}
			i = j
		case c == '\'' || (c == 'e' || c == 'E') && i+1 < len(s) && s[i+1] == '\'':
			backslash := c != '\''
			if backslash {
				i++
			}
			j := i + 1
			for {
				if j >= len(s) {
					return nil, false
				}
				if backslash && s[j] == '\\' {
					j += 2
					continue
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						j += 2
						continue
					}
					break
				}
				j++
			}
			toks = append(toks, sqlToken{'s', s[i : j+1]})
			i = j + 1
		case c == '"':
			j := i + 1
			var b strings.Builder
			for {
				if j >= len(s) {
					return nil, false
				}
				if s[j] == '"' {
					if j+1 < len(s) && s[j+1] == '"' {
						b.WriteByte('"')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, sqlToken{'q', b.String()})
			i = j + 1
		case c == '$':
			// $1 parameters or $tag$ ... $tag$ strings
			j := i + 1
			for j < len(s) && (isWordByte(s[j])) {
				j++
			}
			if j < len(s) && s[j] == '$' {
				tag := s[i : j+1]
				end := strings.Index(s[j+1:], tag)
				if end < 0 {
					return nil, false
				}
				toks = append(toks, sqlToken{'s', s[i : j+1+end+len(tag)]})
				i = j + 1 + end + len(tag)
			} else {
				toks = append(toks, sqlToken{'n', s[i:j]})
				i = j
			}
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' || s[j] == 'e' || s[j] == 'E' || s[j] == '_') {
				j++
			}
			toks = append(toks, sqlToken{'n', s[i:j]})
			i = j
		case isWordByte(c) && !(c >= '0' && c <= '9'):
			j := i
			for j < len(s) && (isWordByte(s[j]) || s[j] == '$') {
				j++
			}
			toks = append(toks, sqlToken{'i', strings.ToLower(s[i:j])})
			i = j
		case strings.ContainsRune("(),;.[]", rune(c)):
			toks = append(toks, sqlToken{c, string(c)})
			i++
		default:
			j := i
			for j < len(s) && strings.IndexByte("+-*/<>=~!@#%^&|`?:", s[j]) >= 0 {
				if j > i && (strings.HasPrefix(s[j:], "--") || strings.HasPrefix(s[j:], "/*")) {
					break
				}
				j++
			}
			if j == i {
				return nil, false
			}
			toks = append(toks, sqlToken{'p', s[i:j]})
			i = j
		}
	}
	return toks, true
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
