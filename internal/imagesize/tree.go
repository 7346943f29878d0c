package imagesize

import "strings"

// node is one path of the stacked filesystem. Nodes hidden by an opaque
// directory are gone from the image but kept for dive's view of the tree,
// which ignores opaque markers (see Analyze).
type node struct {
	children map[string]*node // non-nil for directories
	size     int64            // tar header size
	layer    int              // the layer that wrote the entry
	seen     int              // the last layer that wrote it or something below it
	hidden   bool
}

func (n *node) dir() bool { return n.children != nil }

// tree is the filesystem of layers 0..current stacked, with the bytes of
// each layer that a later one overwrote or deleted.
type tree struct {
	root     *node
	replaced []int64 // per layer
}

func newTree(layers int) *tree {
	return &tree{root: &node{children: map[string]*node{}, layer: -1, seen: -1}, replaced: make([]int64, layers)}
}

// lookup returns the node at p (hidden or not), or nil.
func (t *tree) lookup(p string) *node {
	n := t.root
	for _, e := range strings.Split(p, "/") {
		if n.children == nil {
			return nil
		}
		if n = n.children[e]; n == nil {
			return nil
		}
	}
	return n
}

// parent returns the directory node that holds p, creating the missing
// directories (written by layer) on the way and replacing files in the way.
func (t *tree) parent(p string, layer int) (*node, string) {
	elems := strings.Split(p, "/")
	n := t.root
	n.seen = layer
	for _, e := range elems[:len(elems)-1] {
		c := n.children[e]
		switch {
		case c == nil:
			c = &node{children: map[string]*node{}, layer: layer}
			n.children[e] = c
		case !c.dir():
			t.waste(c)
			c = &node{children: map[string]*node{}, layer: layer}
			n.children[e] = c
		case c.hidden:
			c.hidden, c.layer = false, layer
		}
		c.seen = layer
		n = c
	}
	return n, elems[len(elems)-1]
}

// put applies a file, link or directory entry of layer at p.
func (t *tree) put(p string, isDir bool, size int64, layer int) {
	dir, name := t.parent(p, layer)
	old := dir.children[name]
	if old != nil && old.dir() && isDir {
		old.size, old.layer, old.seen, old.hidden = size, layer, layer, false
		return
	}
	if old != nil {
		t.waste(old)
	}
	n := &node{size: size, layer: layer, seen: layer}
	if isDir {
		n.children = map[string]*node{}
	}
	dir.children[name] = n
}

// whiteout applies layer's whiteout of p: the lower p goes, in both views.
func (t *tree) whiteout(p string, layer int) {
	dir, name := t.parent(p, layer)
	if old := dir.children[name]; old != nil && old.seen < layer {
		t.waste(old)
		delete(dir.children, name)
	}
}

// opaque applies layer's opaque marker in directory p: what lower layers
// put below p is hidden.
func (t *tree) opaque(p string, layer int) {
	var dir *node
	if p == "" {
		dir = t.root
	} else {
		d, name := t.parent(p, layer)
		if dir = d.children[name]; dir == nil || !dir.dir() {
			return
		}
	}
	t.hideLower(dir, layer)
}

func (t *tree) hideLower(dir *node, layer int) {
	for _, c := range dir.children {
		if c.seen < layer {
			t.waste(c)
			hide(c)
		} else if c.dir() {
			t.hideLower(c, layer)
		}
	}
}

func hide(n *node) {
	n.hidden = true
	for _, c := range n.children {
		hide(c)
	}
}

// waste counts the bytes of n and below (those still in the image) against
// the layers that wrote them.
func (t *tree) waste(n *node) {
	if n.hidden {
		return
	}
	if n.layer >= 0 {
		t.replaced[n.layer] += n.size
	}
	for _, c := range n.children {
		t.waste(c)
	}
}

// diveSize is the size dive gives a whiteout of the node at p: the sizes of
// everything below a directory in its (opaque-blind) view, 0 for a file.
func diveSize(n *node) int64 {
	if n == nil || !n.dir() {
		return 0
	}
	var s int64
	var walk func(*node)
	walk = func(n *node) {
		s += n.size
		for _, c := range n.children {
			walk(c)
		}
	}
	walk(n)
	return s
}

// walk calls fn for every file of the final filesystem (not directories,
// not hidden nodes) with its path.
func (t *tree) walk(fn func(p string, n *node)) {
	var rec func(prefix string, n *node)
	rec = func(prefix string, n *node) {
		for name, c := range n.children {
			if c.hidden {
				continue
			}
			p := name
			if prefix != "" {
				p = prefix + "/" + name
			}
			if c.dir() {
				rec(p, c)
			} else {
				fn(p, c)
			}
		}
	}
	rec("", t.root)
}
