package layer

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

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

func TestClampTar(t *testing.T) {
	// covered end to end by e2e TestReproducible; here the streaming shape.
	var sb bytes.Buffer
	cw := NewClampWriter(&sb, epoch)
	if _, err := cw.Write(tarOf(t)); err != nil {
		t.Fatal(err)
	}
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	checkClamped(t, sb.Bytes())
}

func TestClampTarDropsAtimeCtime(t *testing.T) {
	var in bytes.Buffer
	tw := tar.NewWriter(&in)
	tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX,
		ModTime: epoch.Add(-time.Minute), AccessTime: epoch.Add(time.Hour), ChangeTime: epoch.Add(time.Hour),
		PAXRecords: map[string]string{"SCHILY.xattr.user.k": "v"}})
	tw.Close()
	var out bytes.Buffer
	if err := ClampTar(&in, &out, epoch); err != nil {
		t.Fatal(err)
	}
	h, err := tar.NewReader(&out).Next()
	if err != nil {
		t.Fatal(err)
	}
	if !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
		t.Errorf("atime %v ctime %v kept", h.AccessTime, h.ChangeTime)
	}
	if !h.ModTime.Equal(epoch.Add(-time.Minute)) {
		t.Errorf("an older mtime changed: %v", h.ModTime)
	}
	if h.PAXRecords["SCHILY.xattr.user.k"] != "v" {
		t.Errorf("xattr dropped: %v", h.PAXRecords)
	}
}

func TestClampWriterErrors(t *testing.T) {
	t.Run("not a tar", func(t *testing.T) {
		var sb bytes.Buffer
		cw := NewClampWriter(&sb, epoch)
		cw.Write(bytes.Repeat([]byte{'x'}, 1024))
		if err := cw.Close(); err == nil {
			t.Error("a stream that is not a tar was rewritten")
		}
	})
	t.Run("abort", func(t *testing.T) {
		var sb bytes.Buffer
		cw := NewClampWriter(&sb, epoch)
		data := tarOf(t)
		cw.Write(data[:512])
		cw.Abort(errors.New("upstream failed"))
		if _, err := cw.Write(data[512:]); err == nil {
			t.Error("write after Abort succeeded")
		}
	})
}
