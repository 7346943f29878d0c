package main

import (
	"errors"
	"strings"
	"testing"
)

// TestLoginWithoutTerminal: with no terminal to prompt on, a login that
// lacks the user name or the password fails before reaching a registry,
// saying how scripts log in.
func TestLoginWithoutTerminal(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"127.0.0.1:1"}, "not a terminal"},
		{[]string{"-u", "ci", "127.0.0.1:1"}, "not a terminal"},
		{[]string{"-p", "pw", "127.0.0.1:1"}, "not a terminal"},
		{[]string{"--password-stdin", "127.0.0.1:1"}, "--password-stdin needs --username"},
		{[]string{"-u", "ci", "--password-stdin", "127.0.0.1:1"}, "empty password"},
	} {
		_, err := runSub(t, loginCommand(), t.TempDir(), "", tt.args...)
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("login %v: %v, want exit 2 and %q", tt.args, err, tt.want)
		}
		if err != nil && tt.want == "not a terminal" && !strings.Contains(err.Error(), "--username and --password-stdin") {
			t.Errorf("login %v: %v does not say how to log in from a script", tt.args, err)
		}
	}
}
