package check

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteHuman writes one line per finding, "Dockerfile:12  Rule  message",
// its fix indented below, then a summary line.
func WriteHuman(w io.Writer, r *Report) error {
	ew := &errWriter{w: w}
	for _, f := range r.Findings {
		ew.printf("%s:%d  %s  %s\n", f.File, f.Line, f.Rule, f.Message)
		if f.Fix != "" {
			ew.printf("    fix: %s\n", f.Fix)
		}
	}
	warn, errs := r.Count(LevelWarning), r.Count(LevelError)
	if warn+errs == 0 {
		ew.printf("%s: no problems found (%d rules)\n", r.File, len(r.Rules))
	} else {
		ew.printf("%s: %s, %s\n", r.File, plural(warn, "warning"), plural(errs, "error"))
	}
	return ew.err
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// WriteJSON writes the report as one JSON object: file, findings, and the
// warning and error counts.
func WriteJSON(w io.Writer, r *Report) error {
	out := struct {
		File     string    `json:"file"`
		Findings []Finding `json:"findings"`
		Warnings int       `json:"warnings"`
		Errors   int       `json:"errors"`
	}{r.File, r.Findings, r.Count(LevelWarning), r.Count(LevelError)}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("write json report: %w", err)
	}
	return nil
}
