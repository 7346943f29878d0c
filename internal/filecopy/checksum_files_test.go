package filecopy

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// ChecksumFiles agrees with Checksum and names the entry that changed.
func TestChecksumFiles(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string]string{"a.txt": "a", "sub/b.txt": "b"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	req := Request{Src: DirFS(dir, nil), Sources: []string{"."}, DestPath: "/app/", Workdir: "/"}
	ctx := context.Background()
	sum, files, err := ChecksumFiles(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Checksum(ctx, req)
	if err != nil || plain != sum {
		t.Fatalf("Checksum = %s, %v; ChecksumFiles = %s", plain, err, sum)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub/b.txt"), []byte("B"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, after, err := ChecksumFiles(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for k, v := range after {
		if files[k] != v {
			changed = append(changed, k)
		}
	}
	if len(changed) != 1 || changed[0] != "app/sub/b.txt" {
		t.Errorf("changed entries %q, want [app/sub/b.txt] (entries %v)", changed, after)
	}
}
