package snapshot

import (
	"archive/tar"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/ctxio"
	"github.com/builderdev/builder/internal/layer"
	"github.com/builderdev/builder/internal/userns"
)

// Index is a layer as its extraction would leave it on disk, read from
// its tar headers alone: every entry's type, mode, owner, size, mtime and
// symlink target, whiteouts as character devices 0:0 and opaque
// directories marked, without the files' content. A View looks names up
// in it, lists its directories and reads its symlinks without the layer
// extracted (NewLazyView), so a step that only resolves paths in a root
// (a COPY's destination, a WORKDIR) creates no file for it. Making one
// creates no file either. Safe for concurrent reads once made.
type Index struct {
	root  *indexNode
	nodes map[string]*indexNode          // clean name → entry, the root not included
	kids  map[string]map[string]struct{} // directory → the names of its entries
}

// indexNode is one entry; hard links share st.
type indexNode struct {
	st     *syscall.Stat_t
	link   string // a symlink's target
	opaque bool
	dated  bool // a directory that has its header's mtime
}

// errNotIndexable: the tar does something an index does not follow (an
// entry below a symlink of the layer, a hard link it cannot place); the
// layer is extracted instead, which follows it or reports the error.
var errNotIndexable = errors.New("layer cannot be indexed")

// ReadIndex reads the uncompressed layer tar r into an Index. It fails
// where the extraction of the tar could differ from what the headers say
// (the caller extracts the layer then).
func ReadIndex(ctx context.Context, r io.Reader) (*Index, error) {
	b := newIndexBuilder()
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read layer tar: %w", err)
		}
		if err := layer.CheckName(hdr.Name); err != nil {
			return nil, fmt.Errorf("index %.64q...: %w", hdr.Name, err)
		}
		if err := b.entry(hdr); err != nil {
			return nil, fmt.Errorf("index %q: %w", hdr.Name, err)
		}
	}
	return b.ix, nil
}

// Indexer indexes a layer tar while it is being written, from the same
// bytes (as Extraction extracts one).
type Indexer struct {
	pw   *ctxio.PipeWriter
	done chan error
	ix   *Index
}

// NewIndexer starts an index; write the uncompressed tar to it, then call
// Finish or Abort.
func NewIndexer(ctx context.Context) *Indexer {
	x := &Indexer{}
	x.pw, x.done = consume(func(r io.Reader) (err error) {
		x.ix, err = ReadIndex(ctx, r)
		return err
	})
	return x
}

// Write passes tar bytes to the indexer. It fails once indexing failed
// (the caller may carry on without it).
func (x *Indexer) Write(p []byte) (int, error) { return x.pw.Write(p) }

// Finish ends the tar and returns the index.
func (x *Indexer) Finish() (*Index, error) {
	x.pw.Close()
	if err := <-x.done; err != nil {
		return nil, err
	}
	return x.ix, nil
}

// Abort stops the indexer.
func (x *Indexer) Abort() {
	x.pw.CloseWithError(errExtractionAborted)
	<-x.done
}

type indexBuilder struct {
	ix       *Index
	uid, gid uint32 // who owns what the extraction makes itself
	chown    bool   // the extraction can give entries the owners of their headers
	devices  bool   // the extraction can make devices
	now      time.Time
}

func newIndexBuilder() *indexBuilder {
	euid := os.Geteuid()
	b := &indexBuilder{
		uid: uint32(euid), gid: uint32(os.Getegid()), now: time.Now(),
		chown: euid == 0 || userns.Inside(), devices: euid == 0 && !userns.Inside(),
	}
	b.ix = &Index{nodes: map[string]*indexNode{}, kids: map[string]map[string]struct{}{}}
	b.ix.root = b.made(unix.S_IFDIR | 0o755)
	return b
}

// made is a node the extraction makes itself (directories of the way,
// whiteouts): owned by the process, dated now.
func (b *indexBuilder) made(mode uint32) *indexNode {
	st := &syscall.Stat_t{Mode: mode, Uid: b.uid, Gid: b.gid, Nlink: 1}
	st.Mtim = syscall.NsecToTimespec(b.now.UnixNano())
	return &indexNode{st: st}
}

// entry follows extract's entry (in whiteoutsAsOverlay form).
func (b *indexBuilder) entry(hdr *tar.Header) error {
	name, dir, base, skip, err := entryPath(hdr)
	if skip || err != nil {
		return err
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		return b.whiteout(dir, base)
	}
	if err := b.mkdirAll(dir); err != nil {
		return err
	}
	old := b.ix.nodes[name]
	keepDir := old != nil && old.st.Mode&unix.S_IFMT == unix.S_IFDIR && hdr.Typeflag == tar.TypeDir
	if old != nil && !keepDir {
		b.remove(name)
	}
	perm := uint32(hdr.Mode) & 0o7777
	var n *indexNode
	switch hdr.Typeflag {
	case tar.TypeDir:
		n = old
		if !keepDir {
			n = &indexNode{st: &syscall.Stat_t{Mode: unix.S_IFDIR, Nlink: 1}}
		}
	case tar.TypeReg, tar.TypeRegA:
		n = &indexNode{st: &syscall.Stat_t{Mode: unix.S_IFREG, Size: hdr.Size, Nlink: 1}}
	case tar.TypeSymlink:
		n = &indexNode{st: &syscall.Stat_t{Mode: unix.S_IFLNK | 0o777, Size: int64(len(hdr.Linkname)), Nlink: 1}, link: hdr.Linkname}
	case tar.TypeLink:
		t, ok := cleanName(hdr.Linkname)
		target := b.ix.nodes[t]
		if !ok || t == "." || target == nil || target.st.Mode&unix.S_IFMT == unix.S_IFDIR || b.throughSymlink(t) {
			return errNotIndexable
		}
		target.st.Nlink++
		n = &indexNode{st: target.st, link: target.link}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if hdr.Typeflag != tar.TypeFifo && !b.devices {
			return nil // skipped, as extract skips what it may not make
		}
		typ := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		n = &indexNode{st: &syscall.Stat_t{Mode: typ, Nlink: 1, Rdev: unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))}}
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	b.put(name, n)
	// The metadata extract sets: owner, mode (not a symlink's), times.
	st := n.st
	if b.chown {
		st.Uid, st.Gid = uint32(hdr.Uid), uint32(hdr.Gid)
	} else {
		st.Uid, st.Gid = b.uid, b.gid
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK {
		st.Mode = st.Mode&unix.S_IFMT | perm
	}
	// extract dates directories last, the first entry of one last of all.
	if !n.dated {
		st.Mtim = syscall.NsecToTimespec(hdr.ModTime.UnixNano())
		n.dated = hdr.Typeflag == tar.TypeDir
	}
	return nil
}

// whiteout follows extract's whiteout and opaque in overlay form.
func (b *indexBuilder) whiteout(dir, base string) error {
	if base != whiteoutOpaque && strings.HasPrefix(base, whiteoutMeta) {
		return nil
	}
	if err := b.mkdirAll(dir); err != nil {
		return err
	}
	if base == whiteoutOpaque {
		if d := b.node(dir); d != nil {
			d.opaque = true
		}
		return nil
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "" || target == "." || target == ".." {
		return fmt.Errorf("invalid whiteout %q", base)
	}
	name := path.Join(dir, target)
	b.remove(name)
	b.put(name, b.made(unix.S_IFCHR))
	return nil
}

// node returns the entry clean names ("." the root), nil if none.
func (b *indexBuilder) node(clean string) *indexNode {
	if clean == "." {
		return b.ix.root
	}
	return b.ix.nodes[clean]
}

// mkdirAll makes the directories of dir that are missing, as extract does
// on its way to an entry; a symlink or a non-directory on the way is not
// followed here.
func (b *indexBuilder) mkdirAll(dir string) error {
	if dir == "." {
		return nil
	}
	cur := "."
	for _, c := range strings.Split(dir, "/") {
		cur = path.Join(cur, c)
		n := b.ix.nodes[cur]
		switch {
		case n == nil:
			b.put(cur, b.made(unix.S_IFDIR|0o755))
		case n.st.Mode&unix.S_IFMT != unix.S_IFDIR:
			return errNotIndexable
		}
	}
	return nil
}

// throughSymlink reports whether a directory on the way to clean is not a
// plain directory of the index.
func (b *indexBuilder) throughSymlink(clean string) bool {
	for d := path.Dir(clean); d != "."; d = path.Dir(d) {
		n := b.ix.nodes[d]
		if n == nil || n.st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return true
		}
	}
	return false
}

func (b *indexBuilder) put(name string, n *indexNode) {
	b.ix.nodes[name] = n
	dir := path.Dir(name)
	k := b.ix.kids[dir]
	if k == nil {
		k = map[string]struct{}{}
		b.ix.kids[dir] = k
	}
	k[path.Base(name)] = struct{}{}
}

// remove deletes name and everything below it.
func (b *indexBuilder) remove(name string) {
	n := b.ix.nodes[name]
	if n == nil {
		return
	}
	for k := range b.ix.kids[name] {
		b.remove(path.Join(name, k))
	}
	delete(b.ix.kids, name)
	delete(b.ix.nodes, name)
	delete(b.ix.kids[path.Dir(name)], path.Base(name))
	if n.st.Nlink > 1 {
		n.st.Nlink--
	}
}

// lstat returns the entry clean names, as os.Lstat of it in the extracted
// layer would.
func (ix *Index) lstat(clean string) (fs.FileInfo, error) {
	n := ix.nodes[clean]
	if clean == "." {
		n = ix.root
	}
	if n == nil {
		return nil, fs.ErrNotExist
	}
	return layer.StatInfo(path.Base(clean), n.st), nil
}

// readDir lists the directory clean, unsorted.
func (ix *Index) readDir(clean string) ([]fs.DirEntry, error) {
	fi, err := ix.lstat(clean)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, syscall.ENOTDIR
	}
	names := make([]string, 0, len(ix.kids[clean]))
	for k := range ix.kids[clean] {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make([]fs.DirEntry, 0, len(names))
	for _, k := range names {
		fi, err := ix.lstat(path.Join(clean, k))
		if err != nil {
			return nil, err
		}
		out = append(out, fs.FileInfoToDirEntry(fi))
	}
	return out, nil
}

func (ix *Index) opaque(clean string) bool {
	n := ix.nodes[clean]
	return n != nil && n.opaque
}

func (ix *Index) readlink(clean string) (string, error) {
	n := ix.nodes[clean]
	if n == nil {
		return "", fs.ErrNotExist
	}
	if n.st.Mode&unix.S_IFMT != unix.S_IFLNK {
		return "", fs.ErrInvalid
	}
	return n.link, nil
}

// indexMagic starts an encoded Index (version 1).
const indexMagic = "builder-layer-index-1\n"

// MarshalBinary encodes the index (its entries sorted by name, a CRC-32 of
// them at the end), to be kept beside the layer and read back with
// UnmarshalIndex instead of reading the layer's tar again.
func (ix *Index) MarshalBinary() ([]byte, error) {
	names := make([]string, 0, len(ix.nodes))
	for n := range ix.nodes {
		names = append(names, n)
	}
	slices.Sort(names)
	out := append([]byte(nil), indexMagic...)
	out = binary.AppendUvarint(out, uint64(len(names)))
	out = appendNode(out, ".", ix.root)
	for _, n := range names {
		out = appendNode(out, n, ix.nodes[n])
	}
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(out)), nil
}

func appendNode(out []byte, name string, n *indexNode) []byte {
	st := n.st
	out = appendString(out, name)
	for _, v := range []uint64{uint64(st.Mode), uint64(st.Uid), uint64(st.Gid), uint64(st.Size), uint64(st.Nlink), st.Rdev,
		uint64(st.Mtim.Sec), uint64(st.Mtim.Nsec)} {
		out = binary.AppendUvarint(out, v)
	}
	out = appendString(out, n.link)
	if n.opaque {
		return append(out, 1)
	}
	return append(out, 0)
}

func appendString(out []byte, s string) []byte {
	return append(binary.AppendUvarint(out, uint64(len(s))), s...)
}

// UnmarshalIndex decodes what MarshalBinary made. It fails on anything
// else (a damaged file): the caller reads the layer's tar instead.
func UnmarshalIndex(data []byte) (*Index, error) {
	bad := func(what string) (*Index, error) { return nil, fmt.Errorf("decode layer index: %s", what) }
	if len(data) < len(indexMagic)+4 || string(data[:len(indexMagic)]) != indexMagic {
		return bad("not a layer index")
	}
	body, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return bad("checksum mismatch")
	}
	d := indexDecoder{buf: body[len(indexMagic):]}
	count := d.uvarint()
	if d.err != nil || count > uint64(len(d.buf)) {
		return bad("bad entry count")
	}
	ix := &Index{nodes: make(map[string]*indexNode, count), kids: map[string]map[string]struct{}{}}
	for i := uint64(0); i <= count; i++ {
		name := d.string()
		st := &syscall.Stat_t{Mode: uint32(d.uvarint()), Uid: uint32(d.uvarint()), Gid: uint32(d.uvarint()),
			Size: int64(d.uvarint()), Nlink: d.uvarint(), Rdev: d.uvarint()}
		st.Mtim = syscall.Timespec{Sec: int64(d.uvarint()), Nsec: int64(d.uvarint())}
		n := &indexNode{st: st, link: d.string(), opaque: d.byte() == 1}
		if d.err != nil {
			return bad(d.err.Error())
		}
		if i == 0 {
			if name != "." || st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return bad("no root directory")
			}
			ix.root = n
			continue
		}
		clean, ok := cleanName(name)
		if !ok || clean != name || name == "." || ix.nodes[name] != nil {
			return bad(fmt.Sprintf("bad entry name %q", name))
		}
		parent := path.Dir(name)
		if p := ix.root; parent != "." {
			p = ix.nodes[parent] // sorted: a directory comes before its entries
			if p == nil || p.st.Mode&unix.S_IFMT != unix.S_IFDIR {
				return bad(fmt.Sprintf("entry %q without its directory", name))
			}
		}
		ix.nodes[name] = n
		k := ix.kids[parent]
		if k == nil {
			k = map[string]struct{}{}
			ix.kids[parent] = k
		}
		k[path.Base(name)] = struct{}{}
	}
	if len(d.buf) != 0 {
		return bad("trailing data")
	}
	return ix, nil
}

type indexDecoder struct {
	buf []byte
	err error
}

func (d *indexDecoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.buf)
	if n <= 0 {
		d.err = errors.New("truncated")
		return 0
	}
	d.buf = d.buf[n:]
	return v
}

func (d *indexDecoder) string() string {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.buf)) {
		d.err = errors.New("truncated")
		return ""
	}
	s := string(d.buf[:n])
	d.buf = d.buf[n:]
	return s
}

func (d *indexDecoder) byte() byte {
	if d.err != nil || len(d.buf) == 0 {
		d.err = errors.New("truncated")
		return 0
	}
	b := d.buf[0]
	d.buf = d.buf[1:]
	return b
}
