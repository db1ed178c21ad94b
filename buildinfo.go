package main

import (
	"runtime/debug"
	"strings"

	"github.com/prometheus/common/version"
)

// A release build (make build, make dist) stamps version, revision and build
// date with -ldflags. A plain `go build` in a checkout or a
// `go install module@version` stamps none of them, yet the Go toolchain
// records the module version and, in a checkout, the commit and its time:
// those fill in whatever -ldflags left empty, so --version and the
// build_info metrics never show an empty version.
func init() {
	if bi, ok := debug.ReadBuildInfo(); ok {
		fillVersion(bi)
	}
}

// fillVersion sets the version variables that are still empty from bi.
func fillVersion(bi *debug.BuildInfo) {
	if version.Version == "" {
		// "(devel)" is what the toolchain records when it knows no version.
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			version.Version = strings.TrimPrefix(v, "v")
		} else {
			version.Version = "devel"
		}
	}
	var revision, date string
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			revision = s.Value
		case "vcs.time":
			date = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if version.Revision == "" && revision != "" {
		// Uncommitted changes make the commit a poor name for the build.
		if modified {
			revision += "-modified"
		}
		version.Revision = revision
	}
	if version.BuildDate == "" {
		// The commit's time: a plain build records no time of its own.
		version.BuildDate = date
	}
}
