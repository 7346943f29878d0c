package procowner

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name  string
		pid   int
		start uint64
		ok    bool
	}{
		{"12-34-abcdef-xyz", 12, 34, true},
		{"12-34-", 12, 34, true},
		{"abcdef012345-xyz", 0, 0, false},
		{"0-34-a-b", 0, 0, false},
		{"-1-34-a", 0, 0, false},
		{"12-x-abc", 0, 0, false},
	} {
		pid, start, ok := Parse(c.name)
		if pid != c.pid || start != c.start || ok != c.ok {
			t.Errorf("Parse(%q) = %d, %d, %v; want %d, %d, %v", c.name, pid, start, ok, c.pid, c.start, c.ok)
		}
	}
}

func TestGone(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(cmd.Process.Pid)
	self := os.Getpid()
	start, ok := startTime(self)
	if !ok {
		t.Fatal("cannot read own start time")
	}
	for name, want := range map[string]bool{
		dead + "-12345-x": true,
		strconv.Itoa(self) + "-" + strconv.FormatUint(start+1, 10) + "-x": true, // pid reused
		Tag() + "x":                 false,
		strconv.Itoa(self) + "-0-x": false, // start unknown
		"not-ours":                  false,
	} {
		if got := Gone(name); got != want {
			t.Errorf("Gone(%q) = %t, want %t", name, got, want)
		}
	}
}
