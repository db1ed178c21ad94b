// Package yamlfile decodes configuration files strictly: unknown keys are
// errors at every depth, and every error names the file and line in the form
// "file:line: what is wrong; what to do".
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Names turns a Go type name from yaml.v3's messages (e.g. "config.Target")
// into the words a user knows ("a target"); doc names the page that lists
// the keys. Both are used in the "unknown key" message.
type Names struct {
	Section func(goType string) string
	Doc     string
}

// ReadFile reads a configuration file (what names it in the error); an empty
// path reads nothing, so the defaults are checked as a file's values are.
func ReadFile(path, what string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", what, err)
	}
	return data, nil
}

// Parse decodes data, read from file, into cfg, which holds the defaults
// beforehand, with unknown keys rejected; then check reports every problem
// it finds in the values. Either all decode errors or all of check's are
// returned at once, one per line, sorted by line.
func Parse(file string, data []byte, cfg any, names Names, check func(*Errors)) error {
	if err := Decode(file, data, cfg, names); err != nil {
		return err
	}
	errs := NewErrors(file, names)
	_ = yaml.Unmarshal(data, &errs.doc) // it decoded, so it parses
	if check != nil {
		check(errs)
	}
	return errs.Err()
}

// Errors collects the problems found in one file, each as
// "file:line: what is wrong; what to do".
type Errors struct {
	file  string
	names Names
	doc   yaml.Node
	list  []problem
}

type problem struct {
	line int
	msg  string
}

// NewErrors collects problems of file; names words the decode errors that
// AddDecode receives.
func NewErrors(file string, names Names) *Errors {
	return &Errors{file: file, names: names}
}

// at is "file:line", just the file for line 0 (the file as a whole, or a
// value that has no line, such as a default), and "config" for the defaults
// with no file at all.
func (e *Errors) at(line int) string {
	switch {
	case e.file == "":
		return "config"
	case line == 0:
		return e.file
	}
	return fmt.Sprintf("%s:%d", e.file, line)
}

// Add records a problem at line (0 for the file as a whole).
func (e *Errors) Add(line int, format string, args ...any) {
	e.list = append(e.list, problem{line, e.at(line) + ": " + fmt.Sprintf(format, args...)})
}

// AddDecode records every message of an error from decoding a part of the
// file later (StrictDecode, yaml.Node.Decode), each at its line.
func (e *Errors) AddDecode(err error) {
	for _, msg := range strings.Split(Located(e.file, err, e.names).Error(), "\n") {
		line := 0
		if m := locatedRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
		}
		e.list = append(e.list, problem{line, msg})
	}
}

var locatedRE = regexp.MustCompile(`^[^\n]*?:(\d+): `)

// Err returns nil when nothing was recorded, or every problem, one per line,
// sorted by line and then by text, so that the order does not depend on map
// iteration.
func (e *Errors) Err() error {
	if len(e.list) == 0 {
		return nil
	}
	sort.Slice(e.list, func(i, j int) bool {
		a, b := e.list[i], e.list[j]
		if a.line != b.line {
			return a.line < b.line
		}
		return a.msg < b.msg
	})
	msgs := make([]string, len(e.list))
	for i, p := range e.list {
		msgs[i] = p.msg
	}
	return errors.New(strings.Join(msgs, "\n"))
}

// Decode decodes data into out with unknown keys rejected; an empty document
// leaves out as it is.
func Decode(file string, data []byte, out any, names Names) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(out); err != nil && !errors.Is(err, io.EOF) {
		return Located(file, err, names)
	}
	return nil
}

// Located rewrites yaml.v3's "line N: ..." messages as "file:N: ...", one per
// line; unknown keys are worded with names.
func Located(file string, err error, names Names) error {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, e := range te.Errors {
			msgs = append(msgs, locate(file, e, names))
		}
		return errors.New(strings.Join(msgs, "\n"))
	}
	if strings.HasPrefix(err.Error(), "yaml: ") {
		return errors.New(Syntax(file, err))
	}
	return errors.New(locate(file, err.Error(), names))
}

// Syntax words an error of the YAML parser itself (yaml.v3 prefixes those
// with "yaml: ") as "file:line: what; fix the YAML syntax".
func Syntax(file string, err error) string {
	return locate(file, strings.TrimPrefix(err.Error(), "yaml: "), Names{}) + "; fix the YAML syntax"
}

var (
	lineRE  = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	fieldRE = regexp.MustCompile(`^field (\S+) not found in type (.+)$`)
)

func locate(file, msg string, names Names) string {
	m := lineRE.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Sprintf("%s: %s", file, msg)
	}
	text := m[2]
	if f := fieldRE.FindStringSubmatch(text); f != nil {
		where := f[2]
		if names.Section != nil {
			where = names.Section(f[2])
		}
		text = fmt.Sprintf("unknown key %q in %s; check its spelling against %s", f[1], where, names.Doc)
	}
	return fmt.Sprintf("%s:%s: %s", file, m[1], text)
}

var nodeType = reflect.TypeOf(yaml.Node{})

// StrictDecode decodes n into out, rejecting keys that out's type does not
// have, in nested structs, maps and lists too. yaml.v3 applies KnownFields
// only to the top-level decode, not inside custom UnmarshalYAML methods, so
// those call this instead of n.Decode. typeName names out's type in messages
// (e.g. "config.Target"). Fields of type yaml.Node are not checked: their
// owner decodes them later.
func StrictDecode(n *yaml.Node, out any, typeName string) error {
	var errs []string
	checkKeys(n, reflect.TypeOf(out).Elem(), typeName, &errs)
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return n.Decode(out)
}

// checkKeys walks n along t, collecting "line N: field K not found in type T"
// for every key that t does not have.
func checkKeys(n *yaml.Node, t reflect.Type, typeName string, errs *[]string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nodeType {
		return
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := fieldsOf(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			ft, ok := fields[k.Value]
			if !ok {
				*errs = append(*errs, fmt.Sprintf("line %d: field %s not found in type %s", k.Line, k.Value, typeName))
				continue
			}
			checkKeys(v, ft, qualifiedName(ft), errs)
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			checkKeys(n.Content[i], t.Elem(), qualifiedName(t.Elem()), errs)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, item := range n.Content {
			checkKeys(item, t.Elem(), qualifiedName(t.Elem()), errs)
		}
	}
}

// qualifiedName is "pkg.Type" for a (pointer to, slice of, map of) named type.
func qualifiedName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	pkg := t.PkgPath()
	if i := strings.LastIndex(pkg, "/"); i >= 0 {
		pkg = pkg[i+1:]
	}
	if pkg == "" {
		return t.Name()
	}
	return pkg + "." + t.Name()
}

// fieldsOf maps a struct's YAML keys to their field types, following
// ",inline" fields.
func fieldsOf(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name := strings.Split(tag, ",")[0]
		if strings.Contains(tag, ",inline") { // embedded types may be unexported
			for k, ft := range fieldsOf(f.Type) {
				out[k] = ft
			}
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// Line is the line of the key at path (a chain of mapping keys) in the file
// that Parse decoded, or of the deepest key of path that exists, or 0. It
// places problems found in decoded values, which keep no lines of their own.
func (e *Errors) Line(path ...string) int {
	return keyLine(&e.doc, path...)
}

func keyLine(root *yaml.Node, path ...string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := 0
	for _, key := range path {
		if n == nil || n.Kind != yaml.MappingNode {
			return line
		}
		var next *yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				line, next = n.Content[i].Line, n.Content[i+1]
				break
			}
		}
		n = next
	}
	return line
}
