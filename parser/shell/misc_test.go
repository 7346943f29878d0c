package shell

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

func TestError(t *testing.T) {
	_, err := (&Lexer{}).ProcessWord("x${UNSET:?need it}", nil)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not *Error", err, err)
	}
	want := &Error{Word: "x${UNSET:?need it}", Msg: "UNSET: need it"}
	if diff := cmp.Diff(want, e); diff != "" {
		t.Fatalf("error (-want +got):\n%s", diff)
	}
	if got, wantMsg := err.Error(), `failed to process "x${UNSET:?need it}": UNSET: need it`; got != wantMsg {
		t.Fatalf("Error() = %q, want %q", got, wantMsg)
	}
}

func TestProcessNames(t *testing.T) {
	env := EnvMap{"A": "a", "E": ""}
	res, err := (&Lexer{}).Process(`${A}-$B-${A:-$C}-"$E"-'$D'-\$F-$A`, env)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{
		Word:      "a--a--$D-$F-a",
		Words:     []string{"a--a--$D-$F-a"},
		Matched:   []string{"A", "E"},
		Unmatched: []string{"B", "C"},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Fatalf("Process (-want +got):\n%s", diff)
	}
}

func TestHasExpansion(t *testing.T) {
	tests := []struct {
		in   string
		esc  rune
		want bool
	}{
		{"abc", 0, false},
		{"$A", 0, true},
		{"a${A}b", 0, true},
		{`"$A"`, 0, true},
		{"${A:-x}", 0, true},
		{"$1", 0, true},
		{`\$A`, 0, false},
		{"`$A", '`', false},
		{"`$A", 0, true},
		{`'$A'`, 0, false},
		{"$.", 0, false},
		{"a$", 0, false},
		{"${", 0, true},
		{"${UNSET?}", 0, true},
		{"'abc", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := (&Lexer{Escape: tc.esc}).HasExpansion(tc.in); got != tc.want {
				t.Fatalf("HasExpansion(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestEnvList(t *testing.T) {
	env := EnvList([]string{"A=1", "B", "A=2", "C=x=y", "D="})
	tests := []struct {
		name, want string
		set        bool
	}{
		{"A", "2", true},
		{"B", "", true},
		{"C", "x=y", true},
		{"D", "", true},
		{"E", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, set := env.Get(tc.name)
			if got != tc.want || set != tc.set {
				t.Fatalf("Get(%q) = %q, %v; want %q, %v", tc.name, got, set, tc.want, tc.set)
			}
		})
	}
	got, err := (&Lexer{}).ProcessWord("${B-unset}${E-unset}", env)
	if err != nil || got != "unset" {
		t.Fatalf("ProcessWord = %q, %v; want %q", got, err, "unset")
	}
}

func TestConcurrentUse(t *testing.T) {
	lex := &Lexer{}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				got, err := lex.ProcessWord("${P##*/}-$SHELL", testEnv)
				if err != nil || got != "bar.txt-bash" {
					t.Errorf("goroutine %d: got %q, %v", i, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestReversePattern(t *testing.T) {
	tests := map[string]string{
		`a\*c`:    `c\*a`,
		`\\\ab`:   `b\a\\`,
		`ab\`:     `\ba`,
		`👽\🚀🖖`:    `🖖\🚀👽`,
		`\\b`:     `b\\`,
		"":        "",
		`*x?`:     `?x*`,
		`a\}\/.b`: `b.\/\}a`,
	}
	for in, want := range tests {
		if got := reversePattern(in); got != want {
			t.Errorf("reversePattern(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzProcessWord checks that expansion never panics, that text without
// anything special comes back unchanged, and that single quotes keep
// anything literal.
func FuzzProcessWord(f *testing.F) {
	for _, s := range []string{
		"hello", "$PWD", "${X:-a b}", `a'b'"c$X"`, "${X#*x}", "${X%%y*}",
		`${P//\//-}`, "${STAR/\\*/x}", "${HASH:+$HASH}", "${V?}", `\$X`,
		"`$X", "<<EOF x", "${X##$HASH}", "${KOREAN#한}", "$1 $@ ${#} $$",
		"${X/x/\\$1}", "${", "${a:-${b:-${c", "\"${X}", "'", "\xff",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, word string, backtick bool) {
		lex := &Lexer{}
		if backtick {
			lex.Escape = '`'
		}
		got, err := lex.ProcessWord(word, testEnv)
		if _, err2 := lex.ProcessWords(word, testEnv); (err == nil) != (err2 == nil) {
			t.Fatalf("ProcessWord error %v but ProcessWords error %v", err, err2)
		}
		if !utf8.ValidString(word) || strings.HasPrefix(word, "\uFEFF") {
			return
		}
		if !strings.ContainsAny(word, "$'\""+string(lex.escape())) {
			if err != nil || got != word {
				t.Fatalf("ProcessWord(%q) = %q, %v; want it unchanged", word, got, err)
			}
		}
		if !strings.Contains(word, "'") {
			q := "'" + word + "'"
			if got, err := lex.ProcessWord(q, testEnv); err != nil || got != word {
				t.Fatalf("ProcessWord(%q) = %q, %v; want %q", q, got, err, word)
			}
		}
	})
}
