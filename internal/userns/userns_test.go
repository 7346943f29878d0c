package userns

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseMapAndOutside(t *testing.T) {
	m, err := ParseMap("         0       1000          1\n         1     200000      65536\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m[1] != (IDMap{Inside: 1, Outside: 200000, Size: 65536}) {
		t.Fatalf("ParseMap = %+v", m)
	}
	if isInitial(m) {
		t.Error("a rootless map is the initial one")
	}
	for _, c := range []struct {
		in, want int
		ok       bool
	}{{0, 1000, true}, {1, 200000, true}, {1001, 201000, true}, {65536, 265535, true}, {65537, 0, false}} {
		got, ok := outside(m, c.in)
		if got != c.want || ok != c.ok {
			t.Errorf("outside(%d) = %d, %v; want %d, %v", c.in, got, ok, c.want, c.ok)
		}
	}
	init, _ := ParseMap("0 0 4294967295")
	if !isInitial(init) {
		t.Error("the identity map is not the initial one")
	}
	if _, err := ParseMap("0 x 1"); err == nil {
		t.Error("a bad map parsed")
	}
}

func TestSubIDs(t *testing.T) {
	file := filepath.Join(t.TempDir(), "subuid")
	text := "# comment\nother:100000:65536\nalice:200000:65536\n1000:300000:10\nalice:bad:1\n"
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := SubIDs(file, "alice", 1000)
	if err != nil {
		t.Fatal(err)
	}
	want := []Range{{200000, 65536}, {300000, 10}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("SubIDs = %+v, want %+v", got, want)
	}
	none, err := SubIDs(filepath.Join(t.TempDir(), "missing"), "alice", 1000)
	if err != nil || len(none) != 0 {
		t.Fatalf("missing file: %v, %v", none, err)
	}
}

func TestInsideOnHost(t *testing.T) {
	m, err := ReadMap("/proc/self/uid_map")
	if err != nil {
		t.Skip(err)
	}
	if got := Inside(); got == isInitial(m) {
		t.Errorf("Inside() = %v for map %+v", got, m)
	}
}
