package filecopy

import (
	"errors"
	"net/http"
	"time"

	"github.com/builderdev/builder/internal/cpulimit"
	"github.com/builderdev/builder/internal/user"
)

// ErrNotFound is wrapped by the error for a source that does not exist.
var ErrNotFound = errors.New("not found")

// Heredoc is an inline file of COPY <<EOF: Name is the file name, Data its
// final content (already chomped/expanded by the caller).
type Heredoc struct {
	Name string
	Data string
}

// Request describes one COPY or ADD.
type Request struct {
	// Src is where sources are read from: the build context (DirFS) or the
	// root view of another stage or image.
	Src FS
	// SrcName names Src in errors: "build context" when empty.
	SrcName string
	// Dest is a view of the target root before the step; nil for scratch.
	Dest FS
	// Sources are the source paths (relative to Src's root) or, for ADD,
	// http(s) URLs; wildcards allowed.
	Sources []string
	// Heredocs are COPY <<EOF inline files, copied after Sources.
	Heredocs []Heredoc
	// DestPath is the destination; relative paths follow Workdir ("/" when
	// empty); a trailing "/" makes it a directory.
	DestPath, Workdir string
	// Chown sets the owner of everything written (resolve it with
	// user.ResolveChown on the Dest root). Nil means 0:0, or the source's
	// owner when KeepOwner is set.
	Chown *user.Identity
	// KeepOwner keeps the source files' uid/gid when Chown is nil. BuildKit
	// does so for COPY --from=<stage|image>; the build context is always 0:0.
	KeepOwner bool
	// Chmod is the --chmod value: octal ("755") or symbolic ("u+x,g-w").
	Chmod string
	// IsAdd selects ADD semantics: URLs and local archive extraction.
	IsAdd bool
	// Unpack overrides ADD --unpack: nil extracts local archives (not URLs).
	Unpack *bool
	// Checksum is ADD --checksum (sha256:<hex>) for a URL source.
	Checksum string
	// Excludes are --exclude patterns, matched against paths relative to
	// each selected source.
	Excludes []string
	// Parents is --parents: keep the source's parent directories (from the
	// root, or from a "/./" pivot in the source path).
	Parents bool
	// Client downloads ADD URLs; nil uses a plain http.Client.
	Client *http.Client
	// TmpDir holds downloads and archive spools; "" uses os.TempDir().
	TmpDir string
	// ModTime is the mtime of directories this step creates or changes and
	// of heredoc files (and downloads without Last-Modified). Zero means
	// now, as BuildKit without SOURCE_DATE_EPOCH.
	ModTime time.Time
	// MaxExtractSize bounds the bytes ADD extracts from local archives:
	// 0 stops when TmpDir's disk would keep less than 5% free, < 0 has
	// no bound (see layer.Budget).
	MaxExtractSize int64
	// StatCache, when set, lets Checksum skip reading files whose stat
	// information has not changed.
	StatCache *StatCache
	// CPU bounds file hashing (one slot per file read); nil: no bound.
	CPU *cpulimit.Limiter
}
