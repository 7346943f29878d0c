package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
)

// A rebuild after one file of a large COPY changed links every other file
// from the COPY's last layer (WithLinkFrom), and the links are what that
// extraction spends its time on: a comparison (an open, a stat and a
// read) and a link, each a system call or several. So the regular files a
// tar lists one after the other in one directory are taken as a batch:
// their bytes are read as the tar gives them, then they are compared and
// linked by two goroutines at once (when the CPU limiter has a slot free
// for the second), and those not linked are created afterwards in the
// tar's order, as if one at a time. Within a batch every name is another
// one, so the order of the links among themselves, and against the
// creations, is not seen. Any other entry, another directory or a name
// seen already in the batch ends the batch first.

const (
	maxBatchFiles = 256
	maxBatchBytes = 4 << 20
	// minParallelBatch is the least batch worth a second goroutine.
	minParallelBatch = 16
)

// linkBatch is the pending batch of an extraction.
type linkBatch struct {
	dir   string
	pfd   int // the extractor's kept descriptor of dir
	ents  []batchEntry
	names map[string]bool
	bytes int64
}

type batchEntry struct {
	hdr        *tar.Header
	name, base string
	data       []byte
	linked     bool
}

// batchable reports whether hdr can join a batch of x: a regular file the
// linker could link from the earlier layer alone (no WithLinkSources:
// whether one of those links depends on the links before it).
func (x *extractor) batchable(hdr *tar.Header) bool {
	k := x.linker
	return k != nil && k.from != nil && k.sources == nil &&
		(hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA) &&
		hdr.Size <= maxLinkedFile && hdr.Uid >= 0 && hdr.Gid >= 0 && !hasXattrs(hdr)
}

// joinsBatch reports whether hdr goes into the pending batch (or starts
// one) without the batch being flushed first.
func (x *extractor) joinsBatch(hdr *tar.Header) bool {
	if !x.batchable(hdr) {
		return false
	}
	name, dir, base, skip, err := entryPath(hdr)
	if skip || err != nil || strings.HasPrefix(base, whiteoutPrefix) {
		return false
	}
	b := &x.batch
	if len(b.ents) == 0 {
		return true
	}
	return b.dir == dir && !b.names[name] && len(b.ents) < maxBatchFiles && b.bytes+hdr.Size <= maxBatchBytes
}

// addToBatch reads the entry's bytes into the batch; pfd is dir's
// descriptor, which x keeps until the batch is flushed.
func (x *extractor) addToBatch(pfd int, name, dir, base string, hdr *tar.Header, r io.Reader) error {
	data := make([]byte, hdr.Size)
	if _, err := io.ReadFull(r, data); err != nil {
		return fmt.Errorf("read file: %w", err)
	}
	b := &x.batch
	if len(b.ents) == 0 {
		b.dir, b.pfd = dir, pfd
		if b.names == nil {
			b.names = map[string]bool{}
		}
	}
	b.ents = append(b.ents, batchEntry{hdr: hdr, name: name, base: base, data: data})
	b.names[name] = true
	b.bytes += hdr.Size
	return nil
}

// flushBatch links what the earlier layer has of the pending batch and
// creates the rest, in order.
func (x *extractor) flushBatch(ctx context.Context) error {
	b := &x.batch
	if len(b.ents) == 0 {
		return nil
	}
	defer func() {
		b.ents, b.bytes = b.ents[:0], 0
		clear(b.names)
	}()
	k := x.linker
	k.enter(x, b.dir, b.pfd)
	if k.ok {
		link := func(e *batchEntry) { e.linked = k.linkFrom(b.pfd, e.base, e.hdr, e.data) }
		release, second := func() {}, false
		if len(b.ents) >= minParallelBatch {
			release, second = x.cpu.TryAcquire(1)
		}
		if second {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 1; i < len(b.ents); i += 2 {
					link(&b.ents[i])
				}
			}()
			for i := 0; i < len(b.ents); i += 2 {
				link(&b.ents[i])
			}
			wg.Wait()
			release()
		} else {
			for i := range b.ents {
				link(&b.ents[i])
			}
		}
	}
	for i := range b.ents {
		e := &b.ents[i]
		x.created[e.name] = true
		if e.linked {
			k.linked[e.name] = true
			continue // the earlier layer's file has every attribute
		}
		err := x.retry(b.pfd, e.base, func() error { return writeFile(ctx, b.pfd, e.base, bytes.NewReader(e.data)) })
		if err == nil {
			err = x.metadata(b.pfd, e.base, e.name, e.hdr, false)
		}
		if err != nil {
			return fmt.Errorf("extract %q: %w", e.hdr.Name, err)
		}
	}
	return nil
}
