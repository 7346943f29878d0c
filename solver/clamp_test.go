package solver

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"
	"time"
)

type stringsBuilder = bytes.Buffer

var epoch = time.Unix(1700000000, 0).UTC()

func tarOf(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "new", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3, ModTime: epoch.Add(time.Hour), Format: tar.FormatPAX},
		{Name: "old", Typeflag: tar.TypeReg, Mode: 0o644, Size: 3, ModTime: epoch.Add(-time.Hour), Format: tar.FormatPAX},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte("abc"))
	}
	tw.Close()
	return buf.Bytes()
}

func checkClamped(t *testing.T, data []byte) {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	want := map[string]time.Time{"new": epoch, "old": epoch.Add(-time.Hour)}
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		if !h.ModTime.Equal(want[h.Name]) {
			t.Errorf("%s: mtime %s, want %s", h.Name, h.ModTime, want[h.Name])
		}
		body, _ := io.ReadAll(tr)
		if string(body) != "abc" {
			t.Errorf("%s: body %q", h.Name, body)
		}
	}
	if n != 2 {
		t.Errorf("%d entries, want 2", n)
	}
}
