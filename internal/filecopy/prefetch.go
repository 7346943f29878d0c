package filecopy

import (
	"context"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
	"time"
)

// A build reads its context's directories (names and lstats) for the keys
// of its COPY steps, and that is most of what a rebuild that changed
// nothing costs. Prefetch reads them as the build starts, while its base
// images are resolved and its cached steps looked up, and ReadDir answers
// from those reads while they are fresh: read less than prefetchFresh ago.
// A read the prefetch has started is waited for, not made twice.
//
// What a fresh read may miss is a change in the window between it and the
// COPY's turn. The COPY then writes the file it finds, keyed on the one it
// planned, so Plan.Write checks each file it opens against the stat it was
// planned with (changedSince), and a file whose bytes changed fails
// the step rather than store a layer that is not its key's.

// prefetchFresh is how long a prefetched directory read stands for the
// directory. It covers the cache lookups of a rebuild; a COPY that comes
// later (after a RUN that ran) reads its directories again.
const prefetchFresh = time.Second

// dirReads are the directory reads of one prefetch.
type dirReads struct {
	mu      sync.Mutex
	reads   map[string]*dirRead
	walking bool // the prefetch runs: a ReadDir it has not reached is made a dirRead too
}

type dirRead struct {
	done chan struct{} // closed once ents and err are set
	ents []fs.DirEntry
	err  error
	at   time.Time // when the read ended
}

// Prefetch starts reading, in the background, the directories of the
// sources (names as COPY takes them, without wildcards) in fsys, which
// must be a DirFS: each source that is a directory is walked. It returns at
// once; stop (which waits for the walk to end) is for the end of the
// build. It does nothing for another FS or when ctx is done.
func Prefetch(ctx context.Context, fsys FS, sources []string) (stop func()) {
	d, ok := fsys.(*dirFS)
	if !ok || len(sources) == 0 {
		return func() {}
	}
	m := &dirReads{reads: map[string]*dirRead{}, walking: true}
	if !d.reads.CompareAndSwap(nil, m) {
		return func() {} // one prefetch per FS
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			m.mu.Lock()
			m.walking = false
			m.mu.Unlock()
		}()
		for _, dir := range prefetchRoots(sources) {
			fi, err := d.Lstat(dir)
			if err != nil || !fi.IsDir() {
				continue
			}
			d.prefetchTree(ctx, dir)
		}
	}()
	return func() { cancel(); <-done }
}

// prefetchRoots are the directories to walk for sources: each cleaned,
// none below another, none with a wildcard (its matches are the plan's to
// find).
func prefetchRoots(sources []string) []string {
	var roots []string
	for _, s := range sources {
		if strings.ContainsAny(s, `*?[\`) || strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "git@") {
			continue
		}
		roots = append(roots, cleanName(s))
	}
	slices.Sort(roots)
	roots = slices.Compact(roots)
	out := roots[:0]
	for _, r := range roots {
		if len(out) > 0 && within(r, out[len(out)-1]) {
			continue
		}
		out = append(out, r)
	}
	return out
}

// within reports whether name is dir or below it.
func within(name, dir string) bool {
	return dir == "." || name == dir || strings.HasPrefix(name, dir+"/")
}

// prefetchTree reads dir and every directory below it, depth first.
func (d *dirFS) prefetchTree(ctx context.Context, dir string) {
	if ctx.Err() != nil {
		return
	}
	ents, err := d.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if e.IsDir() {
			d.prefetchTree(ctx, path.Join(dir, e.Name()))
		}
	}
}

// readDirMemo is ReadDir through the prefetch's reads: a fresh or running
// read of name is taken, a read the prefetch has not made yet is made and
// kept while the prefetch runs, anything else is read afresh (read).
func (m *dirReads) readDirMemo(name string, read func() ([]fs.DirEntry, error)) ([]fs.DirEntry, error) {
	m.mu.Lock()
	r, ok := m.reads[name]
	switch {
	case ok:
		select {
		case <-r.done:
			if time.Since(r.at) > prefetchFresh {
				delete(m.reads, name)
				m.mu.Unlock()
				return read()
			}
		default:
		}
	case m.walking:
		r = &dirRead{done: make(chan struct{})}
		m.reads[name] = r
		m.mu.Unlock()
		r.ents, r.err = read()
		r.at = time.Now()
		close(r.done)
		return slices.Clone(r.ents), r.err
	default:
		m.mu.Unlock()
		return read()
	}
	m.mu.Unlock()
	<-r.done
	// The caller may sort what it gets: a copy, the read is shared.
	return slices.Clone(r.ents), r.err
}
