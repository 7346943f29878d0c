package parser

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Error is an error about the Dockerfile: it names the file and the first line
// of the instruction it is about, and prints as "Dockerfile:12: message".
type Error struct {
	Location
	Msg string
	// Err is the underlying error, if any (for example one from word expansion).
	Err error
}

func (e *Error) Error() string {
	file := e.File
	if file == "" {
		file = "Dockerfile"
	}
	return fmt.Sprintf("%s:%d: %s", file, e.Start, e.Msg)
}

// Unwrap returns the underlying error, if any.
func (e *Error) Unwrap() error { return e.Err }

// errAt wraps err (or a message) in an *Error at loc. An *Error passes through.
func errAt(loc Location, err error) error {
	var pe *Error
	if errors.As(err, &pe) {
		return err
	}
	return &Error{Location: loc, Msg: err.Error(), Err: err}
}

func errorf(loc Location, format string, args ...any) error {
	return &Error{Location: loc, Msg: fmt.Sprintf(format, args...)}
}

// fromBuildkit converts an error of buildkit's syntax parser into an *Error.
func fromBuildkit(file string, err error) error {
	loc := Location{File: file}
	var le *bkparser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		r := le.Locations[0]
		loc.Start = r[0].Start.Line
		loc.End = r[len(r)-1].End.Line
		err = le.Unwrap()
	}
	if loc.Start < 1 {
		loc.Start = 1
	}
	if loc.End < loc.Start {
		loc.End = loc.Start
	}
	return &Error{Location: loc, Msg: err.Error(), Err: err}
}

// suggest returns " (did you mean X?)" when one of options is within edit
// distance 2 of value, as buildkit's util/suggest does; "" otherwise or when
// value is itself one of the options.
func suggest(value string, options []string, caseSensitive bool) string {
	v := value
	if !caseSensitive {
		v = strings.ToLower(v)
	}
	sorted := append([]string(nil), options...)
	sort.Strings(sorted)
	match, minDist := "", 3
	for _, o := range sorted {
		if !caseSensitive {
			o = strings.ToLower(o)
		}
		if o == v {
			return ""
		}
		if d := levenshtein(v, o); d < minDist {
			match, minDist = o, d
		}
	}
	if match == "" {
		return ""
	}
	if !caseSensitive {
		switch value {
		case strings.ToLower(value):
			match = strings.ToLower(match)
		case strings.ToUpper(value):
			match = strings.ToUpper(match)
		}
	}
	return " (did you mean " + match + "?)"
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// Suggest returns " (did you mean X?)" when one of options is within edit
// distance 2 of value (case-insensitive, as buildkit's util/suggest), else "".
// For messages like `target stage "buid" could not be found (did you mean build?)`.
func Suggest(value string, options []string) string {
	return suggest(value, options, false)
}
