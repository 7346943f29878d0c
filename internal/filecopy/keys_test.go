package filecopy

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"strings"
	"testing"
)

// TestChecksumRecordJSON: the record encoding that cache keys hash is
// byte for byte json.Marshal's, for names with every kind of character
// json escapes or replaces, and for every field empty or not.
func TestChecksumRecordJSON(t *testing.T) {
	names := []string{"", "a", "dir/file.txt", "quote\"d", `back\slash`, "<html>&amp;", "tab\there", "nl\n", "\x00\x1f\x7f",
		"ünï/cødé", "\u2028\u2029", "bad\xffutf8", "\xed\xa0\x80", "emoji 😀", "sp ace/", string(make([]byte, 300))}
	rng := rand.New(rand.NewSource(1))
	pick := func() string {
		if rng.Intn(3) == 0 {
			b := make([]byte, rng.Intn(12))
			for i := range b {
				b[i] = byte(rng.Intn(256))
			}
			return string(b)
		}
		return names[rng.Intn(len(names))]
	}
	num := func() int64 {
		switch rng.Intn(4) {
		case 0:
			return 0
		case 1:
			return -rng.Int63n(1000)
		default:
			return rng.Int63()
		}
	}
	for i := 0; i < 20000; i++ {
		r := checksumRecord{Path: pick(), Type: pick(), Mode: num(), UID: int(num()), GID: int(num()), Link: pick(),
			Major: num(), Minor: num(), Size: num(), SHA256: pick()}
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.appendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("record %+v:\n got %s\nwant %s", r, got, want)
		}
	}
}

// TestWalkKeyOrder: comparing clean names (an entry's: no empty
// component) by walkKey orders them component by component.
func TestWalkKeyOrder(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	alphabet := []string{"a", "b", ".", "-", "0", " ", "é", "\x01", "~", "ab"}
	name := func() string {
		comps := make([]string, rng.Intn(4)+1)
		for i := range comps {
			for n := rng.Intn(3) + 1; n > 0; n-- {
				comps[i] += alphabet[rng.Intn(len(alphabet))]
			}
		}
		return strings.Join(comps, "/")
	}
	for i := 0; i < 50000; i++ {
		a, b := name(), name()
		want := byComponents(a, b)
		got := lessPath(a, b)
		if (want < 0) != (got < 0) || (want == 0) != (got == 0) {
			t.Fatalf("%q vs %q: by components %d, lessPath %d", a, b, want, got)
		}
	}
}

// byComponents compares two names one path component at a time.
func byComponents(a, b string) int {
	for {
		ca, ra, _ := strings.Cut(a, "/")
		cb, rb, _ := strings.Cut(b, "/")
		if c := strings.Compare(ca, cb); c != 0 {
			return c
		}
		if ra == "" || rb == "" {
			return strings.Compare(ra, rb)
		}
		a, b = ra, rb
	}
}
