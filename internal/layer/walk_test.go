package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func TestEachEntry(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{{"a", "one"}, {"b/c", "three"}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	tw.Close()
	l, err := tarball.LayerFromReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = EachEntry(context.Background(), l, func(h *tar.Header, r io.Reader) error {
		b, err := io.ReadAll(r)
		got = append(got, h.Name+"="+string(b))
		return err
	})
	if err != nil || len(got) != 2 || got[0] != "a=one" || got[1] != "b/c=three" {
		t.Errorf("EachEntry: %q, %v", got, err)
	}
	stop := errors.New("stop")
	n := 0
	err = EachEntry(context.Background(), l, func(*tar.Header, io.Reader) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("fn's error: %v after %d entries, want stop after 1", err, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := EachEntry(ctx, l, func(*tar.Header, io.Reader) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
}
