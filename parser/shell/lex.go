package shell

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// eof is what the reader returns past the end of the word.
const eof = -1

// Lexer expands words. The zero value uses '\\' as the escape character.
// A Lexer holds no state between calls and may be used concurrently.
type Lexer struct {
	// Escape is the escape character: '\\' (the default when zero) or '`'
	// with "# escape=`". The other one is an ordinary character.
	Escape rune
	// SkipQuotes makes quotes ordinary characters. Docker expands the
	// bodies of COPY/ADD heredocs this way (always with '\\' as escape).
	SkipQuotes bool
}

// Result is the full outcome of expanding one word.
type Result struct {
	// Word is the expanded word with quotes removed, not split.
	Word string
	// Words is Word split into fields on unquoted white space; white space
	// that came from quotes or an escape does not split. Nil if empty.
	Words []string
	// Matched and Unmatched list the variable names that were looked up
	// and were set or unset, each once, in order of first use.
	Matched, Unmatched []string
}

// Error is returned for a word that cannot be expanded: a syntax error, an
// unsupported operator, an invalid pattern, or ${v?msg}/${v:?msg} on an
// unset (or empty) variable. Its text is Docker's.
type Error struct {
	Word string // the word as given
	Msg  string // e.g. "v: is not allowed to be unset", "syntax error: bad substitution"
}

func (e *Error) Error() string {
	return fmt.Sprintf("failed to process %q: %s", e.Word, e.Msg)
}

var (
	errMissingBrace    = errors.New("syntax error: missing '}'")
	errBadSubstitution = errors.New("syntax error: bad substitution")
)

// ProcessWord expands word without splitting it: quotes are removed, escapes
// applied and variables substituted.
func (l *Lexer) ProcessWord(word string, env Env) (string, error) {
	r, err := l.Process(word, env)
	return r.Word, err
}

// ProcessWords expands word like ProcessWord and splits the result into
// fields on white space that is not quoted or escaped, as Docker does for
// EXPOSE. Values of variables are split even when written as ${v}; quoted
// values ("$v") are not. Empty fields are dropped.
func (l *Lexer) ProcessWords(word string, env Env) ([]string, error) {
	r, err := l.Process(word, env)
	return r.Words, err
}

// Process expands word and returns the joined and split results and the
// variable names it looked up. env may be nil (nothing set).
func (l *Lexer) Process(word string, env Env) (Result, error) {
	rec := &recorder{env: env}
	x := &expander{src: word, env: rec, esc: l.escape(), skipQuotes: l.SkipQuotes}
	// Docker's scanner drops a byte order mark at the start of the word.
	if strings.HasPrefix(word, "\uFEFF") {
		x.pos = len("\uFEFF")
	}
	w, ws, err := x.process(eof, false, false)
	if err != nil {
		return Result{}, &Error{Word: word, Msg: err.Error()}
	}
	return Result{Word: w, Words: ws, Matched: rec.matched, Unmatched: rec.unmatched}, nil
}

// HasExpansion reports whether word contains a variable expansion ($name or
// ${...}) that ProcessWord would perform; an invalid ${...} counts as one.
// "$" before a character that cannot start a name, and "$" inside single
// quotes or after the escape character, do not.
func (l *Lexer) HasExpansion(word string) bool {
	r, err := l.Process(word, nil)
	if err != nil {
		return strings.ContainsRune(word, '$')
	}
	return len(r.Matched)+len(r.Unmatched) > 0
}

func (l *Lexer) escape() rune {
	if l == nil || l.Escape == 0 {
		return '\\'
	}
	return l.Escape
}

// expander reads one word rune by rune; invalid UTF-8 reads as U+FFFD,
// as with Docker's text/scanner.
type expander struct {
	src        string
	pos        int
	env        Env
	esc        rune
	skipQuotes bool
	raw        bool // keep escape characters: inside # % / operands (patterns)
}

func (x *expander) peek() rune {
	if x.pos >= len(x.src) {
		return eof
	}
	r, _ := utf8.DecodeRuneInString(x.src[x.pos:])
	return r
}

func (x *expander) next() rune {
	if x.pos >= len(x.src) {
		return eof
	}
	r, n := utf8.DecodeRuneInString(x.src[x.pos:])
	x.pos += n
	return r
}

// process expands up to stop (consumed) or the end of the word when stop is
// eof. raw keeps escape characters in the result (for patterns); preserve
// also doubles escape characters inside single quotes so that they stay
// literal in a pattern.
func (x *expander) process(stop rune, raw, preserve bool) (string, []string, error) {
	saved := x.raw
	x.raw = raw
	defer func() { x.raw = saved }()

	var b strings.Builder
	var f fields
loop:
	for {
		ch := x.peek()
		switch {
		case ch == eof:
			break loop
		case stop != eof && ch == stop:
			x.next()
			return b.String(), f.done(), nil
		case ch == '$':
			s, err := x.dollar()
			if err != nil {
				return "", nil, err
			}
			b.WriteString(s)
			f.split(s)
		case ch == '<':
			s := x.heredoc()
			b.WriteString(s)
			f.raw(s)
		case ch == '\'' && !x.skipQuotes:
			s, err := x.single(preserve)
			if err != nil {
				return "", nil, err
			}
			b.WriteString(s)
			f.raw(s)
		case ch == '"' && !x.skipQuotes:
			s, err := x.double()
			if err != nil {
				return "", nil, err
			}
			b.WriteString(s)
			f.raw(s)
		default:
			x.next()
			if ch == x.esc {
				if x.raw {
					f.raw(string(ch))
					b.WriteRune(ch)
				}
				// The escape character escapes the next one; at the end
				// of the word it disappears.
				ch = x.next()
				if ch == eof {
					break loop
				}
				f.raw(string(ch))
			} else {
				f.char(ch)
			}
			b.WriteRune(ch)
		}
	}
	if stop != eof {
		return "", nil, fmt.Errorf("unexpected end of statement while looking for matching %c", stop)
	}
	return b.String(), f.done(), nil
}

// single reads a single-quoted string: everything up to the next quote is
// literal and there is no way to escape a single quote.
func (x *expander) single(preserve bool) (string, error) {
	x.next()
	var b strings.Builder
	for {
		ch := x.next()
		switch ch {
		case eof:
			return "", errors.New("unexpected end of statement while looking for matching single-quote")
		case '\'':
			return b.String(), nil
		}
		if preserve && ch == x.esc {
			b.WriteRune(ch)
		}
		b.WriteRune(ch)
	}
}

// double reads a double-quoted string: variables are expanded and the escape
// character escapes only '"', '$' and itself; before anything else it is
// literal.
func (x *expander) double() (string, error) {
	x.next()
	var b strings.Builder
	for {
		switch x.peek() {
		case eof:
			return "", errors.New("unexpected end of statement while looking for matching double-quote")
		case '"':
			x.next()
			return b.String(), nil
		case '$':
			s, err := x.dollar()
			if err != nil {
				return "", err
			}
			b.WriteString(s)
			continue
		}
		ch := x.next()
		if ch == x.esc {
			switch x.peek() {
			case eof:
				continue
			case '"', '$', x.esc:
				if x.raw {
					b.WriteRune(ch)
				}
				ch = x.next()
			default:
				// A literal escape character; in a pattern it is doubled
				// so that it stays literal there.
				if x.raw {
					b.WriteRune(ch)
				}
			}
		}
		b.WriteRune(ch)
	}
}

// heredoc passes "<<" and the blanks after it through as one unsplit piece,
// as Docker does so that "<< EOF" stays one field.
func (x *expander) heredoc() string {
	x.next()
	if x.peek() != '<' {
		return "<"
	}
	x.next()
	start := x.pos
	for {
		switch x.peek() {
		case ' ', '\t', '\r':
			x.next()
			continue
		}
		break
	}
	return "<<" + x.src[start:x.pos]
}

// fields splits expanded text into words the way Docker does.
type fields struct {
	cur    strings.Builder
	inWord bool
	out    []string
}

// char adds an unquoted character: white space ends the current field.
func (f *fields) char(r rune) {
	if !unicode.IsSpace(r) {
		f.cur.WriteRune(r)
		f.inWord = true
		return
	}
	if f.inWord && f.cur.Len() > 0 {
		f.out = append(f.out, f.cur.String())
		f.cur.Reset()
		f.inWord = false
	}
}

// split adds the value of an unquoted expansion, which is split.
func (f *fields) split(s string) {
	for _, r := range s {
		f.char(r)
	}
}

// raw adds quoted or escaped text, which never splits.
func (f *fields) raw(s string) {
	f.cur.WriteString(s)
	f.inWord = true
}

func (f *fields) done() []string {
	if f.cur.Len() > 0 {
		f.out = append(f.out, f.cur.String())
		f.cur.Reset()
		f.inWord = false
	}
	return f.out
}
