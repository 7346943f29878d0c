package parser

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadDockerignore(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"comments and blanks", "# comment\n\n  *.md  \nnode_modules\n", []string{"*.md", "node_modules"}},
		{"exceptions", "*.md\n!README.md\n! docs/x.md\n", []string{"*.md", "!README.md", "!docs/x.md"}},
		{"leading slash and clean", "/build/\n./tmp/../out//x\n/\n", []string{"build", "out/x", "/"}},
		{"crlf", "a\r\nb\r\n", []string{"a", "b"}},
		{"empty", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadDockerignore(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
