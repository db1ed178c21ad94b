package main

import (
	_ "embed"
)

// defaultQueries is the shipped queries.yaml, run when no queries file is
// named.
//
//go:embed queries.yaml
var defaultQueries []byte
