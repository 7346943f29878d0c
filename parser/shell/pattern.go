package shell

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// globRegexp turns a pattern of ${v#p}, ${v%p} or ${v/p/r} into a regular
// expression. As in Docker, '*' matches any string (shortest or longest per
// greedy), '?' any one character except a newline, '\' escapes '*', '?' and
// '\' (and is dropped before '}' and '/'), and everything else - including
// '[' - is literal: bracket expressions are not supported.
func globRegexp(pattern string, greedy, anchored bool) (*regexp.Regexp, error) {
	rs := []rune(strings.TrimPrefix(pattern, "\uFEFF"))
	var b strings.Builder
	if anchored {
		b.WriteByte('^')
	}
	star := ".*?"
	if greedy {
		star = ".*"
	}
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch r {
		case '*':
			b.WriteString(star)
		case '?':
			b.WriteByte('.')
		case '\\':
			if i+1 == len(rs) {
				return nil, errors.New("invalid escape '\\' at end of pattern")
			}
			if rs[i+1] == '}' || rs[i+1] == '/' {
				continue
			}
			i++
			if n := rs[i]; n != '*' && n != '?' && n != '\\' {
				return nil, fmt.Errorf("invalid escape '\\%c'", n)
			}
			b.WriteByte('\\')
			b.WriteRune(rs[i])
		case '[', ']', '{', '}', '.', '+', '(', ')', '|', '^', '$':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return regexp.Compile(b.String())
}

// trimPrefix removes the shortest (or longest) prefix of value that matches
// pattern.
func trimPrefix(pattern, value string, greedy bool) (string, error) {
	re, err := globRegexp(pattern, greedy, true)
	if err != nil {
		return "", fmt.Errorf("invalid pattern (%s) in substitution: %w", pattern, err)
	}
	if loc := re.FindStringIndex(value); loc != nil {
		return value[loc[1]:], nil
	}
	return value, nil
}

// trimSuffix removes the shortest (or longest) suffix of value that matches
// pattern, by trimming a prefix of both reversed (as Docker does, which also
// means invalid UTF-8 in value comes back as U+FFFD).
func trimSuffix(pattern, value string, greedy bool) (string, error) {
	if _, err := globRegexp(pattern, greedy, true); err != nil {
		return "", fmt.Errorf("invalid pattern (%s) in substitution: %w", pattern, err)
	}
	s, err := trimPrefix(reversePattern(pattern), reverse(value), greedy)
	if err != nil {
		return "", fmt.Errorf("invalid pattern (%s) in substitution: %w", pattern, err)
	}
	return reverse(s), nil
}

// reversePattern reverses a pattern keeping each escape before the character
// it escapes: `a\*c` becomes `c\*a`. Escapes pair from the left.
func reversePattern(p string) string {
	rs := []rune(p)
	out := make([]rune, len(rs))
	j := len(rs)
	for i := 0; i < len(rs); i++ {
		if rs[i] == '\\' && i+1 < len(rs) {
			j -= 2
			out[j], out[j+1] = rs[i], rs[i+1]
			i++
			continue
		}
		j--
		out[j] = rs[i]
	}
	return string(out)
}

func reverse(s string) string {
	rs := []rune(s)
	slices.Reverse(rs)
	return string(rs)
}
