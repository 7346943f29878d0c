package parser

import (
	"bytes"
	"strings"
	"testing"

	"github.com/builderdev/builder/parser/shell"
)

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"FROM a\nRUN echo $A\n",
		"# escape=`\nFROM a AS b\nCOPY --chmod=u+x `\n x /y\n",
		"ARG A=1\nFROM $A\nENV B=$A C=${B:-x}\nLABEL \"a b\"=c\nEXPOSE $P 80\n",
		"FROM a\nRUN --mount=type=cache,target=/$X,mode=0755 <<-EOF\n\tls\n\tEOF\n",
		"FROM a\nCOPY <<EOF /x\n${A:?no}\nEOF\nONBUILD ADD --checksum=$S u /d\n",
		"FROM a\nENV B=${A:-x y} C=${A/a b/${D:+e f}}\nARG E=${A:?g h}\n",
		"FROM a\nHEALTHCHECK --interval=1s CMD [\"x\"]\nVOLUME [\"/a\"]\nUSER ${U#p}\nWORKDIR $W\nSTOPSIGNAL $S\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, src string) {
		df, err := Parse(strings.NewReader(src))
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			return
		}
		env := shell.EnvMap{"A": "1", "P": "8080", "X": "x y"}
		lex := &shell.Lexer{Escape: df.Escape}
		g, err := NewGlobals(df, BuildArgs{Values: map[string]string{"A": "cli"}})
		if err != nil {
			return
		}
		for _, st := range df.Stages {
			_, _ = Expand(st.From, lex, env)
			_, _ = g.ExpandFrom(st.From)
			sc := g.NewStage([]string{"PATH=/bin"})
			for _, inst := range st.Instructions {
				_, _ = Expand(inst, lex, env)
				_, _ = sc.Step(inst)
			}
		}
		_, _ = ReadDockerignore(bytes.NewReader([]byte(src)))
	})
}
