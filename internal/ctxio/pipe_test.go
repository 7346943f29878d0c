package ctxio

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"testing"
	"time"
)

// TestPipeCarriesEverything: bytes written in writes of any size arrive
// in order, through a buffer smaller than the writes, then io.EOF.
func TestPipeCarriesEverything(t *testing.T) {
	data := make([]byte, 1<<20)
	rand.New(rand.NewSource(1)).Read(data)
	r, w := Pipe(4096)
	go func() {
		rng := rand.New(rand.NewSource(2))
		for rest := data; len(rest) > 0; {
			k := min(len(rest), 1+rng.Intn(10000))
			if n, err := w.Write(rest[:k]); err != nil || n != k {
				panic(err)
			}
			rest = rest[k:]
		}
		w.Close()
	}()
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes (%v), want the %d written", len(got), err, len(data))
	}
}

// TestPipeWriterRunsAhead: a write returns before the reader reads, up to
// the buffer's size; a write past it waits for the reader.
func TestPipeWriterRunsAhead(t *testing.T) {
	r, w := Pipe(10)
	if n, err := w.Write([]byte("0123456789")); n != 10 || err != nil {
		t.Fatalf("write into an empty buffer: %d, %v", n, err)
	}
	done := make(chan struct{})
	go func() {
		w.Write([]byte("x"))
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("a write into a full buffer returned before a read")
	case <-time.After(50 * time.Millisecond):
	}
	buf := make([]byte, 4)
	if n, _ := r.Read(buf); string(buf[:n]) != "0123" {
		t.Fatalf("read %q", buf[:n])
	}
	<-done
}

// TestPipeErrors: the reader's close fails the writes after it with its
// error; the writer's error reaches the reader after the buffered bytes.
func TestPipeErrors(t *testing.T) {
	boom := errors.New("boom")
	r, w := Pipe(16)
	w.Write([]byte("abc"))
	w.CloseWithError(boom)
	got, err := io.ReadAll(r)
	if string(got) != "abc" || !errors.Is(err, boom) {
		t.Errorf("read %q, %v; want abc then boom", got, err)
	}
	if _, err := w.Write([]byte("more")); err == nil {
		t.Errorf("write after close: no error")
	}
	r, w = Pipe(4)
	go r.CloseWithError(boom)
	var werr error
	for werr == nil {
		_, werr = w.Write([]byte("data"))
	}
	if !errors.Is(werr, boom) {
		t.Errorf("write after the reader failed: %v, want boom", werr)
	}
}
