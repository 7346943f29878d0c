package filecopy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
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
	Dev   uint64
	Ino   uint64
	Size  int64
	Mtime int64
	Ctime int64
	Mode  uint32
}

const (
	statCacheFile  = "statcache.bin"
	statCacheMagic = "builder statcache 1\n"
	// A record: dev, ino, size, mtime, ctime (8 bytes each), mode (4),
	// sha256 (32), little-endian.
	statRecordSize = 5*8 + 4 + sha256.Size
)

// decodeStatCache reads the records of data into sums; a file that is not
// one (another version, truncated) yields nothing.
func decodeStatCache(data []byte, sums map[statKey]string) {
	rest, ok := bytes.CutPrefix(data, []byte(statCacheMagic))
	if !ok || len(rest)%statRecordSize != 0 {
		return
	}
	le := binary.LittleEndian
	for ; len(rest) > 0; rest = rest[statRecordSize:] {
		r := rest[:statRecordSize]
		k := statKey{
			Dev: le.Uint64(r[0:]), Ino: le.Uint64(r[8:]), Size: int64(le.Uint64(r[16:])),
			Mtime: int64(le.Uint64(r[24:])), Ctime: int64(le.Uint64(r[32:])), Mode: le.Uint32(r[40:]),
		}
		sums[k] = hex.EncodeToString(r[44:statRecordSize])
	}
}

// encodeStatCache is the file decodeStatCache reads; sums that are not
// sha256 hex are left out.
func encodeStatCache(sums map[statKey]string) []byte {
	out := make([]byte, 0, len(statCacheMagic)+len(sums)*statRecordSize)
	out = append(out, statCacheMagic...)
	le := binary.LittleEndian
	for k, s := range sums {
		sum, err := hex.DecodeString(s)
		if err != nil || len(sum) != sha256.Size {
			continue
		}
		out = le.AppendUint64(out, k.Dev)
		out = le.AppendUint64(out, k.Ino)
		out = le.AppendUint64(out, uint64(k.Size))
		out = le.AppendUint64(out, uint64(k.Mtime))
		out = le.AppendUint64(out, uint64(k.Ctime))
		out = le.AppendUint32(out, k.Mode)
		out = append(out, sum...)
	}
	return out
}

// OpenStatCache loads the cache kept in dir (created if missing). A corrupt
// cache file is ignored: the cache starts empty. The file is binary, a
// magic line and fixed-size records, so that opening it costs a read, not
// a parse: every build, a no-op above all, opens it.
func OpenStatCache(dir string) (*StatCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create stat cache dir: %w", err)
	}
	os.Remove(filepath.Join(dir, "statcache.json")) // the format before statcache.bin
	c := &StatCache{file: filepath.Join(dir, statCacheFile), sums: map[statKey]string{}, racy: racyWindow()}
	data, err := os.ReadFile(c.file)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return c, nil
		}
		return nil, fmt.Errorf("read stat cache: %w", err)
	}
	decodeStatCache(data, c.sums)
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
	data := encodeStatCache(c.sums)
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
