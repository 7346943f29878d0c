package attest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testPageSize = 512

// bdbFile lays values out as a BerkeleyDB hash database of 512-byte pages
// as rpm's Packages holds them: page 0 the metadata, page 1 one hash page
// of (package number, off-page value) pairs, then each value's chain of
// overflow pages. A hash page holds up to 20 values.
func bdbFile(values ...[]byte) []byte {
	var pages [][]byte
	newPage := func(typ byte) []byte {
		p := make([]byte, testPageSize)
		binary.LittleEndian.PutUint32(p[8:], uint32(len(pages)))
		p[25] = typ
		pages = append(pages, p)
		return p
	}
	meta := newPage(bdbPageHashMeta)
	binary.LittleEndian.PutUint32(meta[12:], bdbHashMagic)
	binary.LittleEndian.PutUint32(meta[16:], 9)
	binary.LittleEndian.PutUint32(meta[20:], testPageSize)
	hash := newPage(bdbPageHash)
	binary.LittleEndian.PutUint16(hash[20:], uint16(2*len(values)))
	top := testPageSize
	for i, v := range values {
		first := uint32(len(pages))
		for len(v) > 0 || first == uint32(len(pages)) {
			n := min(len(v), testPageSize-bdbPageHeaderLen)
			p := newPage(bdbPageOverflow)
			binary.LittleEndian.PutUint16(p[22:], uint16(n))
			copy(p[bdbPageHeaderLen:], v[:n])
			v = v[n:]
			if len(v) > 0 {
				binary.LittleEndian.PutUint32(p[16:], uint32(len(pages)))
			}
		}
		top -= 5 // the key: H_KEYDATA and a 4-byte package number
		hash[top] = 1
		binary.LittleEndian.PutUint32(hash[top+1:], uint32(i+1))
		binary.LittleEndian.PutUint16(hash[bdbPageHeaderLen+4*i:], uint16(top))
		top -= bdbOffPageItemLen
		hash[top] = bdbItemOffPage
		binary.LittleEndian.PutUint32(hash[top+4:], first)
		binary.LittleEndian.PutUint32(hash[top+8:], uint32(len(values[i])))
		binary.LittleEndian.PutUint16(hash[bdbPageHeaderLen+4*i+2:], uint16(top))
	}
	binary.LittleEndian.PutUint16(hash[22:], uint16(top))
	binary.LittleEndian.PutUint32(meta[32:], uint32(len(pages)-1))
	return bytes.Join(pages, nil)
}

func readBDB(b []byte) ([][]byte, error) {
	var out [][]byte
	err := bdbValues(context.Background(), bytes.NewReader(b), int64(len(b)), func(v []byte) error {
		out = append(out, v)
		return nil
	})
	return out, err
}

func TestBDBValues(t *testing.T) {
	long := bytes.Repeat([]byte("0123456789"), 200) // five overflow pages
	want := [][]byte{[]byte("one"), long, []byte("three")}
	got, err := readBDB(bdbFile(want...))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}

	page := func(b []byte, n int) []byte { return b[n*testPageSize : (n+1)*testPageSize] }
	bad := map[string]func(b []byte){
		"big-endian":       func(b []byte) { binary.BigEndian.PutUint32(b[12:], bdbHashMagic) },
		"page size":        func(b []byte) { binary.LittleEndian.PutUint32(b[20:], 1000) },
		"encrypted":        func(b []byte) { b[24] = 1 },
		"last page past":   func(b []byte) { binary.LittleEndian.PutUint32(b[32:], 100) },
		"too many entries": func(b []byte) { binary.LittleEndian.PutUint16(page(b, 1)[20:], 1000) },
		"entry past page": func(b []byte) {
			binary.LittleEndian.PutUint16(page(b, 1)[bdbPageHeaderLen+2:], testPageSize-4)
			page(b, 1)[testPageSize-4] = bdbItemOffPage
		},
		"chain loops":       func(b []byte) { binary.LittleEndian.PutUint32(page(b, 3)[16:], 3) },
		"chain shares page": func(b []byte) { binary.LittleEndian.PutUint32(page(b, 8)[16:], 4) },
		"chain to a hash page": func(b []byte) {
			binary.LittleEndian.PutUint32(page(b, 3)[16:], 1)
		},
		"chain past the end": func(b []byte) { binary.LittleEndian.PutUint32(page(b, 3)[16:], 1<<30) },
		"page overfull":      func(b []byte) { binary.LittleEndian.PutUint16(page(b, 3)[22:], testPageSize) },
		"value too long":     func(b []byte) { binary.LittleEndian.PutUint16(page(b, 2)[22:], 100) },
		"value too short":    func(b []byte) { binary.LittleEndian.PutUint32(page(b, 1)[testPageSize-5-12+8:], 4) },
		"value huge":         func(b []byte) { binary.LittleEndian.PutUint32(page(b, 1)[testPageSize-5-12+8:], 1<<31) },
	}
	for name, damage := range bad {
		t.Run(name, func(t *testing.T) {
			b := bdbFile(want...)
			damage(b)
			if got, err := readBDB(b); !errors.Is(err, errBDB) {
				t.Errorf("got %d values, error %v; want an error wrapping errBDB", len(got), err)
			}
		})
	}
}

// FuzzBerkeleyDB: any file yields values or an error wrapping errBDB,
// never a panic or a loop.
func FuzzBerkeleyDB(f *testing.F) {
	f.Add(bdbFile([]byte("one"), bytes.Repeat([]byte("x"), 1200)))
	f.Add(bdbFile(headerBlob(str(rpmTagName, "bash"), str(rpmTagVersion, "5.2"), str(rpmTagRelease, "1"))))
	f.Fuzz(func(t *testing.T, b []byte) {
		vs, err := readBDB(b)
		if err != nil && !errors.Is(err, errBDB) {
			t.Fatalf("error %v does not wrap errBDB", err)
		}
		total := 0
		for _, v := range vs {
			total += len(v)
		}
		if total > len(b) {
			t.Fatalf("%d bytes of values from %d bytes", total, len(b))
		}
	})
}
