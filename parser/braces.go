package parser

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"

	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
)

// buildkit's syntax parser splits the words of ENV, LABEL and ARG at every
// space outside quotes, so `ENV B=${A:-two words}` would become the words
// `B=${A:-two` and `words}` (and ENV then fails: no "=" in "words}"). The
// word is one word to the shell lexer that expands it later: a space inside
// ${...} does not end it. parseTree hides such spaces from buildkit's parser
// (each becomes a private-use rune) on the lines of those instructions only,
// and puts them back in every string of the tree it returns.

// maskBase is added to a space rune to hide it. unicode.IsSpace is false for
// every rune of [maskBase, maskBase+maskSpan), a plane-15 private-use range.
const (
	maskBase = 0xF0000
	maskSpan = 0x3001 // the largest space rune is U+3000
)

// parseTree runs buildkit's parser over data with the spaces inside ${...}
// of key=value instructions hidden. Whenever hiding is not possible (the
// file already holds a rune of the mask range) or does not parse, data is
// parsed as it is.
func parseTree(data []byte) (*bkparser.Result, error) {
	plain := func() (*bkparser.Result, error) { return bkparser.Parse(bytes.NewReader(data)) }
	if hasMaskRune(data) {
		return plain()
	}
	esc := '\\'
	if v, _, _, ok := bkparser.ParseDirective("escape", data); ok && v == "`" {
		esc = '`'
	}
	// First pass, every line hidden: only to learn which lines hold ENV,
	// LABEL and ARG, which buildkit tells after joining continuations.
	all, changed := hideBraceSpaces(data, esc, func(int) bool { return true })
	if !changed {
		return plain()
	}
	first, err := bkparser.Parse(bytes.NewReader(all))
	if err != nil {
		return plain()
	}
	lines := map[int]bool{}
	for _, n := range first.AST.Children {
		if isKeyValueNode(n) {
			for l := n.StartLine; l <= n.EndLine; l++ {
				lines[l] = true
			}
		}
	}
	masked, changed := hideBraceSpaces(data, esc, func(l int) bool { return lines[l] })
	if !changed {
		return plain()
	}
	res, err := bkparser.Parse(bytes.NewReader(masked))
	if err != nil {
		return plain()
	}
	unhideNode(res.AST)
	return res, nil
}

func isKeyValueNode(n *bkparser.Node) bool {
	switch strings.ToLower(n.Value) {
	case "env", "label", "arg":
		return true
	case "onbuild":
		return n.Next != nil && len(n.Next.Children) == 1 && isKeyValueNode(n.Next.Children[0])
	}
	return false
}

func hasMaskRune(data []byte) bool {
	return strings.ContainsFunc(string(data), isMaskRune)
}

// hideBraceSpaces returns data with each space rune inside a ${...} that
// closes on the same physical line replaced by its masked rune, on the lines
// (1-based) for which hide is true. An escaped "$" opens nothing.
func hideBraceSpaces(data []byte, esc rune, hide func(line int) bool) ([]byte, bool) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	changed := false
	for i, line := range lines {
		if !hide(i+1) || !bytes.Contains(line, []byte("${")) || !utf8.Valid(line) {
			continue
		}
		rs := []rune(string(line))
		if hideInLine(rs, esc) {
			lines[i] = []byte(string(rs))
			changed = true
		}
	}
	return bytes.Join(lines, nil), changed
}

func hideInLine(rs []rune, esc rune) bool {
	changed := false
	for i := 0; i < len(rs); i++ {
		switch {
		case rs[i] == esc:
			i++
		case rs[i] == '$' && i+1 < len(rs) && rs[i+1] == '{':
			end := braceEnd(rs, i+2, esc)
			if end < 0 {
				return changed
			}
			for j := i + 2; j < end; j++ {
				if rs[j] != '\n' && unicode.IsSpace(rs[j]) {
					rs[j] += maskBase
					changed = true
				}
			}
			i = end
		}
	}
	return changed
}

// braceEnd is the index of the "}" closing a "${" whose body starts at
// from, counting nested "${"; -1 when the line ends first.
func braceEnd(rs []rune, from int, esc rune) int {
	depth := 1
	for j := from; j < len(rs); j++ {
		switch {
		case rs[j] == esc:
			j++
		case rs[j] == '$' && j+1 < len(rs) && rs[j+1] == '{':
			depth++
			j++
		case rs[j] == '}':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// unhide puts back the spaces hidden by hideBraceSpaces.
func unhide(s string) string {
	if !strings.ContainsFunc(s, isMaskRune) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isMaskRune(r) {
			return r - maskBase
		}
		return r
	}, s)
}

func isMaskRune(r rune) bool { return r >= maskBase && r < maskBase+maskSpan }

func unhideNode(n *bkparser.Node) {
	for ; n != nil; n = n.Next {
		n.Value = unhide(n.Value)
		n.Original = unhide(n.Original)
		for i := range n.Flags {
			n.Flags[i] = unhide(n.Flags[i])
		}
		for i := range n.Heredocs {
			n.Heredocs[i].Name = unhide(n.Heredocs[i].Name)
			n.Heredocs[i].Content = unhide(n.Heredocs[i].Content)
		}
		for i := range n.PrevComment {
			n.PrevComment[i] = unhide(n.PrevComment[i])
		}
		for _, c := range n.Children {
			unhideNode(c)
		}
	}
}
