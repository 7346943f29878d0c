package snapshot

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func withoutNlink(m map[string]node) map[string]node {
	for k, n := range m {
		n.Nlink = 0
		m[k] = n
	}
	return m
}

func extractTo(t *testing.T, dir string, b []byte, opts ...ExtractOption) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := extract(context.Background(), dir, bytes.NewReader(b), whiteoutsAsOverlay, extractConfig(opts)); err != nil {
		t.Fatalf("extract: %v", err)
	}
}

// TestLinkFrom: an extraction with WithLinkFrom links exactly the files
// the earlier layer has at the same path with the same bytes and
// attributes, makes the same tree as one without, and never changes the
// earlier layer: not when a hard link entry of the new layer has other
// attributes than the file it links, and not through a symlink.
func TestLinkFrom(t *testing.T) {
	owned := file("app/owned", "same")
	owned.uid, owned.gid = 1000, 1000
	setuid := file("app/setuid", "same")
	setuid.mode = 0o4755
	withXattr := file("app/xattr", "same")
	withXattr.xattrs = map[string]string{"user.k": "v"}
	oldLayer := mkTar(t,
		dir("app", 0o755), file("app/same", "same bytes"), file("app/changed", "old"),
		file("app/mode", "m"), owned, setuid, withXattr, file("app/linked", "shared"),
		dir("real", 0o755), file("real/f", "via symlink"), dir("s", 0o755), file("s/f", "via symlink"))
	ownedOther := owned
	ownedOther.uid = 1001
	modeOther := file("app/mode", "m")
	modeOther.mode = 0o600
	linkOther := hardlink("app/linked.2", "app/linked")
	linkOther.mode = 0o600 // the link entry's attributes go to the inode
	newLayer := mkTar(t,
		dir("app", 0o755), file("app/same", "same bytes"), file("app/changed", "new"),
		modeOther, ownedOther, setuid, withXattr, file("app/linked", "shared"), linkOther,
		file("app/new", "new"),
		dir("real", 0o755), file("real/f", "via symlink"), symlink("s", "real"), file("s/f", "via symlink"))

	root := t.TempDir()
	old, plain, linked := filepath.Join(root, "old"), filepath.Join(root, "plain"), filepath.Join(root, "linked")
	extractTo(t, old, oldLayer)
	before := tree(t, old)
	extractTo(t, plain, newLayer)
	extractTo(t, linked, newLayer, WithLinkFrom(old))

	if diff := cmp.Diff(withoutNlink(tree(t, plain)), withoutNlink(tree(t, linked))); diff != "" {
		t.Errorf("linked extraction differs from a plain one (-plain +linked):\n%s", diff)
	}
	if diff := cmp.Diff(withoutNlink(before), withoutNlink(tree(t, old))); diff != "" {
		t.Errorf("the earlier layer changed (-before +after):\n%s", diff)
	}
	for name, wantShared := range map[string]bool{
		"app/same": true, "app/setuid": true,
		"app/changed": false, "app/mode": false, "app/owned": false, "app/xattr": false,
		"app/linked": false, // its link entry changes the inode's mode: a copy of its own
		// Linked first, then replaced by the entry s/f, which the new
		// layer's symlink s leads to.
		"real/f": false,
	} {
		shared := inode(t, filepath.Join(old, name)) == inode(t, filepath.Join(linked, name))
		if shared != wantShared {
			t.Errorf("%s: shares the earlier layer's inode: %v, want %v", name, shared, wantShared)
		}
	}
	// s/f went through the new layer's symlink to real/f, which the
	// earlier layer has as a file of its own: not linked from old s/f.
	if inode(t, filepath.Join(old, "s", "f")) == inode(t, filepath.Join(linked, "real", "f")) {
		t.Errorf("s/f through a symlink was linked from the earlier layer's s/f")
	}
}

// TestLinkFromGone: a link source that does not exist links nothing and
// the extraction works.
func TestLinkFromGone(t *testing.T) {
	root := t.TempDir()
	b := mkTar(t, dir("d", 0o755), file("d/f", "x"))
	extractTo(t, filepath.Join(root, "a"), b, WithLinkFrom(filepath.Join(root, "missing")))
	if data, err := os.ReadFile(filepath.Join(root, "a", "d", "f")); err != nil || string(data) != "x" {
		t.Fatalf("d/f = %q, %v", data, err)
	}
}

// TestExtractKeptDirFollowsReplacement: the directory an extraction keeps
// open for consecutive entries is looked up again once an entry replaced
// something in it: here l leads to b through b/x, which an entry of l
// replaces with a file, so l leads nowhere and the next entry of l fails
// as it does when each entry resolves its directory afresh.
func TestExtractKeptDirFollowsReplacement(t *testing.T) {
	root := t.TempDir()
	b := mkTar(t, dir("b/", 0o755), dir("b/x/", 0o755), symlink("l", "b/x/.."), file("l/f1", "one"),
		file("l/x", "now a file"), file("l/f2", "two"))
	err := extract(context.Background(), root, bytes.NewReader(b), whiteoutsAsOverlay, extractConfig(nil))
	if err == nil {
		t.Fatalf("extraction through a path that no longer resolves succeeded")
	}
	if _, serr := os.Lstat(filepath.Join(root, "b", "f2")); serr == nil {
		t.Errorf("l/f2 went to b/f2 through a directory kept open after l stopped leading there")
	}
}
