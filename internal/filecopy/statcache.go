package filecopy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/cpulimit"
)

// StatCache remembers the sha256 of files by their stat information
// (device, inode, size, mtime, ctime, mode), so that hashing an unchanged
// file costs a stat, not a read. It is persisted as one JSON file in a
// directory; Save writes it atomically. Safe for concurrent use.
//
// A file modified within the same timestamp tick as the stat that was
// cached would keep its key: so a file whose mtime or ctime is less than
// two ticks of the kernel's coarse clock older than the end of its read is
// hashed but not remembered (git's "racy" entries), and the next lookup
// reads it again, unless its FS is immutable (extracted layers, which
// nothing writes after extraction).
type StatCache struct {
	file  string
	racy  time.Duration
	reads atomic.Int64

	mu    sync.Mutex
	sums  map[statKey]string
	dirty bool
}

type statKey struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"`
	Ctime int64  `json:"ctime"`
	Mode  uint32 `json:"mode"`
}

type statRecord struct {
	statKey
	SHA256 string `json:"sha256"`
}

const statCacheFile = "statcache.json"

// OpenStatCache loads the cache kept in dir (created if missing). A corrupt
// cache file is ignored: the cache starts empty.
func OpenStatCache(dir string) (*StatCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create stat cache dir: %w", err)
	}
	c := &StatCache{file: filepath.Join(dir, statCacheFile), sums: map[statKey]string{}, racy: racyWindow()}
	data, err := os.ReadFile(c.file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return c, nil
		}
		return nil, fmt.Errorf("read stat cache: %w", err)
	}
	var recs []statRecord
	if json.Unmarshal(data, &recs) == nil {
		for _, r := range recs {
			c.sums[r.statKey] = r.SHA256
		}
	}
	return c, nil
}

// racyWindow is two ticks of the clock file timestamps come from.
func racyWindow() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGetres(unix.CLOCK_REALTIME_COARSE, &ts); err != nil || ts.Nano() <= 0 {
		return 20 * time.Millisecond
	}
	return 2 * time.Duration(ts.Nano())
}

// Reads is the number of files Sum has read (not answered from the cache)
// since the cache was opened.
func (c *StatCache) Reads() int64 { return c.reads.Load() }

// isRacy reports whether a file with stat k, read until now, may change
// again within the timestamps k has.
func (c *StatCache) isRacy(k statKey, now time.Time) bool {
	newest := max(k.Mtime, k.Ctime)
	return now.UnixNano()-newest < int64(c.racy)
}

func keyOf(fi fs.FileInfo) (statKey, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return statKey{}, false
	}
	return statKey{
		Dev: uint64(st.Dev), Ino: st.Ino, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(), Mode: st.Mode,
	}, true
}

// Sum returns the hex sha256 of the regular file name in fsys, whose Lstat
// is fi, reading it only when the cache has no entry for its stat; a read
// holds a slot of cpu (nil: no bound).
func (c *StatCache) Sum(ctx context.Context, cpu *cpulimit.Limiter, fsys FS, name string, fi fs.FileInfo) (string, error) {
	k, ok := keyOf(fi)
	if ok {
		c.mu.Lock()
		s, hit := c.sums[k]
		c.mu.Unlock()
		if hit {
			return s, nil
		}
	}
	c.reads.Add(1)
	s, err := hashOpen(ctx, cpu, func() (io.ReadCloser, error) { return fsys.Open(name) }, name)
	if err != nil {
		return "", err
	}
	if ok && (isImmutable(fsys) || !c.isRacy(k, time.Now())) {
		c.mu.Lock()
		c.sums[k] = s
		c.dirty = true
		c.mu.Unlock()
	}
	return s, nil
}

// isImmutable reports whether fsys promises that its files never change
// (a view over extracted layers), so that no sum from it is racy.
func isImmutable(fsys FS) bool {
	im, ok := fsys.(interface{ Immutable() bool })
	return ok && im.Immutable()
}

// Save writes the cache if it changed: temp file, fsync, rename.
func (c *StatCache) Save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	recs := make([]statRecord, 0, len(c.sums))
	for k, s := range c.sums {
		recs = append(recs, statRecord{statKey: k, SHA256: s})
	}
	data, err := json.Marshal(recs)
	if err != nil {
		return fmt.Errorf("encode stat cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(c.file), statCacheFile+".tmp-*")
	if err != nil {
		return fmt.Errorf("save stat cache: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("save stat cache: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save stat cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save stat cache: %w", err)
	}
	if err := os.Rename(f.Name(), c.file); err != nil {
		return fmt.Errorf("save stat cache: %w", err)
	}
	c.dirty = false
	return nil
}
