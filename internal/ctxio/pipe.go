package ctxio

import (
	"io"
	"sync"
)

// Pipe is io.Pipe with a buffer of up to size bytes: a Write returns once
// its bytes are buffered, and blocks only while the buffer is full, so the
// writer and the reader work at once instead of taking turns at each
// write. Close or CloseWithError of either end behaves as with io.Pipe.
func Pipe(size int) (*PipeReader, *PipeWriter) {
	p := &pipe{size: size}
	p.cond = sync.NewCond(&p.mu)
	return &PipeReader{p}, &PipeWriter{p}
}

type pipe struct {
	mu   sync.Mutex
	cond *sync.Cond
	buf  []byte // buf[off:] is unread
	off  int
	size int
	werr error // the writer closed: what reads return once buf is empty
	rerr error // the reader closed: what writes return
}

// PipeReader is the read end of a Pipe.
type PipeReader struct{ p *pipe }

// PipeWriter is the write end of a Pipe.
type PipeWriter struct{ p *pipe }

func (r *PipeReader) Read(b []byte) (int, error) {
	p := r.p
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.off == len(p.buf) && p.werr == nil && p.rerr == nil {
		p.cond.Wait()
	}
	if p.rerr != nil {
		return 0, io.ErrClosedPipe
	}
	if p.off == len(p.buf) {
		return 0, p.werr
	}
	n := copy(b, p.buf[p.off:])
	p.off += n
	if p.off == len(p.buf) {
		p.buf, p.off = p.buf[:0], 0
	}
	p.cond.Broadcast()
	return n, nil
}

// CloseWithError makes the writes after it fail with err (io.ErrClosedPipe
// for nil) and drops what is buffered.
func (r *PipeReader) CloseWithError(err error) error {
	if err == nil {
		err = io.ErrClosedPipe
	}
	p := r.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rerr == nil {
		p.rerr = err
	}
	p.buf, p.off = nil, 0
	p.cond.Broadcast()
	return nil
}

// Close is CloseWithError(nil).
func (r *PipeReader) Close() error { return r.CloseWithError(nil) }

func (w *PipeWriter) Write(b []byte) (int, error) {
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for len(b) > 0 {
		for len(p.buf)-p.off >= p.size && p.rerr == nil && p.werr == nil {
			p.cond.Wait()
		}
		if p.rerr != nil {
			return n, p.rerr
		}
		if p.werr != nil {
			return n, io.ErrClosedPipe
		}
		if p.off > 0 && len(p.buf)+len(b) > cap(p.buf) {
			p.buf = append(p.buf[:0], p.buf[p.off:]...) // the read part's room, reused
			p.off = 0
		}
		k := min(len(b), p.size-(len(p.buf)-p.off))
		p.buf = append(p.buf, b[:k]...)
		b, n = b[k:], n+k
		p.cond.Broadcast()
	}
	return n, nil
}

// CloseWithError makes reads return err (io.EOF for nil) once what is
// buffered is read.
func (w *PipeWriter) CloseWithError(err error) error {
	if err == nil {
		err = io.EOF
	}
	p := w.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.werr == nil {
		p.werr = err
	}
	p.cond.Broadcast()
	return nil
}

// Close is CloseWithError(nil).
func (w *PipeWriter) Close() error { return w.CloseWithError(nil) }
