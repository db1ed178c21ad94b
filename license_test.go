package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The binary is distributed under Apache-2.0, and every module linked into
// it that ships a NOTICE file has that file reproduced in ours (the Apache
// License's section 4(d) asks it of redistributions).
func TestNoticeCarriesEveryDependencysNotice(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped by -short")
	}
	license, err := os.ReadFile("LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(license, []byte("Apache License\n                           Version 2.0, January 2004")) {
		t.Fatal("LICENSE is not the Apache License 2.0")
	}
	notice, err := os.ReadFile("NOTICE")
	if err != nil {
		t.Fatal(err)
	}
	ours := strings.Join(strings.Fields(string(notice)), " ")
	// Only what the binary links: -deps of the main package, tests excluded.
	out, err := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{if not .Main}}{{.Path}} {{.Dir}}{{end}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	checked := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		path, dir, ok := strings.Cut(sc.Text(), " ")
		if !ok || seen[path] {
			continue
		}
		seen[path] = true
		for _, n := range []string{"NOTICE", "NOTICE.txt", "NOTICE.md"} {
			b, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				continue
			}
			checked++
			if !strings.Contains(ours, strings.Join(strings.Fields(string(b)), " ")) {
				t.Errorf("NOTICE lacks the NOTICE of %s (%s): append it under a heading with the module path", path, filepath.Join(dir, n))
			}
		}
	}
	if len(seen) == 0 || checked == 0 {
		t.Fatalf("go list named %d modules, %d with a NOTICE: expected the Prometheus libraries' NOTICE files", len(seen), checked)
	}
}
