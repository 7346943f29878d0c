package parser

import (
	"fmt"
	"io"

	"github.com/moby/patternmatcher/ignorefile"
)

// ReadDockerignore reads a .dockerignore file with Docker's rules (moby's
// ignorefile.ReadAll): '#' comments, surrounding space trimmed, '!' marks an
// exception, a leading '/' is dropped, patterns are filepath.Clean'ed, empty
// lines ignored.
func ReadDockerignore(r io.Reader) ([]string, error) {
	p, err := ignorefile.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read dockerignore: %w", err)
	}
	return p, nil
}
