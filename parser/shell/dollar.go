package shell

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// dollar expands the parameter at '$': $name, ${name} or ${name<op>word}.
// A '$' that is not followed by a name or '{' is literal.
func (x *expander) dollar() (string, error) {
	x.next() // '$'
	if x.peek() != '{' {
		name := x.name()
		if name == "" {
			return "$", nil
		}
		v, _ := x.env.Get(name)
		return v, nil
	}
	x.next() // '{'
	switch x.peek() {
	case eof:
		return "", errMissingBrace
	case '{', '}', ':':
		return "", errBadSubstitution
	}
	name := x.name()
	op := x.next()
	switch op {
	case '}':
		v, _ := x.env.Get(name)
		return v, nil
	case ':', '-', '+', '?', '#', '%':
		return x.modifier(name, op)
	case '/':
		return x.replace(name)
	case eof:
		return "", errMissingBrace
	default:
		return "", fmt.Errorf("unsupported modifier (%c) in substitution", op)
	}
}

// name reads a parameter name: letters, digits and '_' not starting with a
// digit; or a run of digits (positional parameters); or one of the special
// parameters @ * # ? - $ ! 0. Positional and special parameters are looked up
// like any name, so they are normally unset and expand to "".
func (x *expander) name() string {
	var b strings.Builder
	for {
		ch := x.peek()
		if ch == eof {
			break
		}
		if b.Len() == 0 && unicode.IsDigit(ch) {
			for unicode.IsDigit(x.peek()) {
				b.WriteRune(x.next())
			}
			break
		}
		if b.Len() == 0 && isSpecialParam(ch) {
			x.next()
			return string(ch)
		}
		if !unicode.IsLetter(ch) && !unicode.IsDigit(ch) && ch != '_' {
			break
		}
		b.WriteRune(x.next())
	}
	return b.String()
}

func isSpecialParam(ch rune) bool {
	switch ch {
	case '@', '*', '#', '?', '-', '$', '!', '0':
		return true
	}
	return false
}

// modifier handles ${name-word} ${name+word} ${name?word} ${name#word}
// ${name%word} and the colon forms of the first three; op is the character
// after the name, already consumed.
func (x *expander) modifier(name string, op rune) (string, error) {
	mod := string(op)
	colon := op == ':'
	if colon {
		op = x.next()
		if op == eof {
			return "", errMissingBrace
		}
		mod += string(op)
		if op == '#' || op == '%' {
			return "", fmt.Errorf("unsupported modifier (%s) in substitution", mod)
		}
	}
	pattern := op == '#' || op == '%'
	word, _, err := x.process('}', pattern, pattern)
	if err != nil {
		if x.peek() == eof {
			return "", errMissingBrace
		}
		return "", err
	}
	value, set := x.env.Get(name)
	empty := !set || (colon && value == "")
	switch op {
	case '-':
		if empty {
			return word, nil
		}
		return value, nil
	case '+':
		if empty {
			return "", nil
		}
		return word, nil
	case '?':
		if !set || empty {
			msg := word
			switch {
			case msg != "":
			case !set:
				msg = "is not allowed to be unset"
			default:
				msg = "is not allowed to be empty"
			}
			return "", fmt.Errorf("%s: %s", name, msg)
		}
		return value, nil
	case '#', '%':
		// One operator character removes the shortest match, two the
		// longest. The second one may also come from an expansion.
		greedy := false
		if strings.HasPrefix(word, string(op)) {
			greedy = true
			word = word[1:]
		}
		if op == '#' {
			return trimPrefix(word, value, greedy)
		}
		return trimSuffix(word, value, greedy)
	default:
		return "", fmt.Errorf("unsupported modifier (%s) in substitution", mod)
	}
}

// replace handles ${name/pattern/string} (first, longest match) and
// ${name//pattern/string} (every match). The leading '/' is consumed.
func (x *expander) replace(name string) (string, error) {
	all := x.peek() == '/'
	if all {
		x.next()
	}
	pattern, _, err := x.process('/', true, true)
	if err != nil {
		if x.peek() == eof {
			return "", errors.New("syntax error: missing '/' in ${}")
		}
		return "", err
	}
	repl, _, err := x.process('}', true, false)
	if err != nil {
		if x.peek() == eof {
			return "", errMissingBrace
		}
		return "", err
	}
	value, _ := x.env.Get(name)
	re, err := globRegexp(pattern, true, false)
	if err != nil {
		return "", fmt.Errorf("invalid pattern (%s) in substitution: %w", pattern, err)
	}
	if all {
		// As in Docker, "$1" and "${name}" in the replacement refer to
		// (non-existent) regexp groups here, so they vanish.
		return re.ReplaceAllString(value, repl), nil
	}
	if loc := re.FindStringIndex(value); loc != nil {
		return value[:loc[0]] + repl + value[loc[1]:], nil
	}
	return value, nil
}
