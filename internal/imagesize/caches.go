package imagesize

import "strings"

// cacheDirs are the package-manager caches that have no use in a final
// image, as slash paths without the leading slash; "*" matches one path
// element (a user's home under /home).
var cacheDirs = [...]string{
	"var/lib/apt/lists",
	"var/cache/apt",
	"var/cache/apk",
	"var/cache/yum",
	"var/cache/dnf",
	"root/.cache/pip",
	"home/*/.cache/pip",
	"root/.npm",
	"home/*/.npm",
	"root/.cache/yarn",
	"home/*/.cache/yarn",
	"usr/local/share/.cache/yarn",
	"root/.cache/go-build",
	"home/*/.cache/go-build",
	"root/.cache/pypoetry",
	"root/.cache/uv",
}

// cacheDir returns the package-manager cache directory p (a clean slash
// path without the leading slash) is inside of, as an absolute path, or ""
// when p is in none.
func cacheDir(p string) string {
	elems := strings.Split(p, "/")
	for _, c := range cacheDirs {
		pat := strings.Split(c, "/")
		if len(elems) <= len(pat) { // the directory itself holds no bytes
			continue
		}
		ok := true
		for i, e := range pat {
			if e != "*" && e != elems[i] {
				ok = false
				break
			}
		}
		if ok {
			return "/" + strings.Join(elems[:len(pat)], "/")
		}
	}
	return ""
}
