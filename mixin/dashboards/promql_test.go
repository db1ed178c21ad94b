package dashboards

import (
	"fmt"
	"strings"
	"unicode"
)

// A small PromQL reader for the tests: it finds every vector selector of an
// expression, its matchers, the functions it sits in and the range it is
// given. It is not a parser; the real parser (promtool's, through
// TestExpressionsParse) checks the syntax.

type selector struct {
	Metric   string
	Matchers string   // the text between the braces
	Funcs    []string // enclosing function and aggregation names, innermost last
	Range    string   // the [range] right after it, if any
}

var keywords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true,
}

var aggregations = map[string]bool{"sum": true, "min": true, "max": true, "avg": true, "count": true,
	"group": true, "stddev": true, "stdvar": true, "topk": true, "bottomk": true, "quantile": true, "count_values": true}

// labelListKeywords are followed by a parenthesised list of label names.
var labelListKeywords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true}

func isIdentStart(r byte) bool { return r == '_' || r == ':' || unicode.IsLetter(rune(r)) }
func isIdent(r byte) bool      { return isIdentStart(r) || (r >= '0' && r <= '9') }

// selectors lists the vector selectors of expr.
func selectors(expr string) ([]selector, error) {
	var out []selector
	var stack []string // function name (or "" for a bare parenthesis) per open parenthesis
	i := 0
	skipSpace := func() {
		for i < len(expr) && (expr[i] == ' ' || expr[i] == '\n' || expr[i] == '\t') {
			i++
		}
	}
	for i < len(expr) {
		c := expr[i]
		switch {
		case c == '"' || c == '\'':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
		case c == '(':
			stack = append(stack, "")
			i++
		case c == ')':
			if len(stack) == 0 {
				return nil, fmt.Errorf("unbalanced ) at %d", i)
			}
			stack = stack[:len(stack)-1]
			i++
		case c == '[':
			j := strings.IndexByte(expr[i:], ']')
			if j < 0 {
				return nil, fmt.Errorf("unclosed [ at %d", i)
			}
			i += j + 1
		case c == '{':
			return nil, fmt.Errorf("selector without a metric name at %d", i)
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isIdent(expr[i]) || expr[i] == '.' || expr[i] == '+' && (expr[i-1] == 'e' || expr[i-1] == 'E')) {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			word := expr[i:j]
			i = j
			skipSpace()
			switch {
			case labelListKeywords[strings.ToLower(word)]:
				if i < len(expr) && expr[i] == '(' {
					k := strings.IndexByte(expr[i:], ')')
					if k < 0 {
						return nil, fmt.Errorf("unclosed label list after %s", word)
					}
					i += k + 1
				}
			case keywords[strings.ToLower(word)]:
			case aggregations[word] && (strings.HasPrefix(expr[i:], "by") || strings.HasPrefix(expr[i:], "without")):
				// sum by (labels) (expr): skip the grouping, then open the call.
				k := strings.IndexByte(expr[i:], ')')
				if k < 0 {
					return nil, fmt.Errorf("unclosed grouping after %s", word)
				}
				i += k + 1
				skipSpace()
				if i >= len(expr) || expr[i] != '(' {
					return nil, fmt.Errorf("%s without its argument", word)
				}
				stack = append(stack, word)
				i++
			case i < len(expr) && expr[i] == '(':
				stack = append(stack, word)
				i++
			default:
				s := selector{Metric: word, Funcs: append([]string(nil), nonEmpty(stack)...)}
				if i < len(expr) && expr[i] == '{' {
					k := i + 1
					for k < len(expr) && expr[k] != '}' {
						if expr[k] == '"' {
							k++
							for k < len(expr) && expr[k] != '"' {
								if expr[k] == '\\' {
									k++
								}
								k++
							}
						}
						k++
					}
					if k >= len(expr) {
						return nil, fmt.Errorf("unclosed { after %s", word)
					}
					s.Matchers = expr[i+1 : k]
					i = k + 1
				}
				skipSpace()
				if i < len(expr) && expr[i] == '[' {
					k := strings.IndexByte(expr[i:], ']')
					if k < 0 {
						return nil, fmt.Errorf("unclosed [ after %s", word)
					}
					s.Range = expr[i+1 : i+k]
					i += k + 1
				}
				out = append(out, s)
			}
		default:
			i++
		}
	}
	if len(stack) != 0 {
		return nil, fmt.Errorf("%d unclosed (", len(stack))
	}
	return out, nil
}

func nonEmpty(stack []string) []string {
	var out []string
	for _, s := range stack {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// innermostFunc is the function the selector is an argument of, if any.
func (s selector) innermostFunc() string {
	if len(s.Funcs) == 0 {
		return ""
	}
	return s.Funcs[len(s.Funcs)-1]
}

// substitute replaces Grafana's variables the way Grafana would for the
// given values.
func substitute(expr string, vars map[string]string) string {
	pairs := []string{"$__rate_interval", vars["__rate_interval"], "$__range", vars["__range"]}
	for _, name := range []string{"database", "instance", "job"} {
		pairs = append(pairs, "$"+name, vars[name])
	}
	return strings.NewReplacer(pairs...).Replace(expr)
}

// staticVars stand in for a dashboard's variables where no server is asked.
var staticVars = map[string]string{
	"__rate_interval": "1m", "__range": "1h", "job": "postgres", "instance": ".*", "database": ".*",
}
