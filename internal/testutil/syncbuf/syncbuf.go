// Package syncbuf is a bytes.Buffer that a process or a server writes while a
// test reads it (a child's stderr, a logger's output).
package syncbuf

import (
	"bytes"
	"sync"
)

// Buffer is safe for concurrent writers and readers.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
