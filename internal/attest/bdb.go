package attest

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// BerkeleyDB hash database layout (libdb's dbinc/db_page.h), as far as
// rpm's /var/lib/rpm/Packages needs it: little-endian, as every rpm
// database that matters was written on x86 or arm.
const (
	bdbHashMagic      = 0x061561
	bdbPageHeaderLen  = 26
	bdbPageHashOld    = 2  // P_HASH_UNSORTED, written before libdb 4.6 (CentOS 5)
	bdbPageOverflow   = 7  // P_OVERFLOW
	bdbPageHashMeta   = 8  // P_HASHMETA
	bdbPageHash       = 13 // P_HASH
	bdbItemOffPage    = 3  // H_OFFPAGE: a value stored on overflow pages
	bdbOffPageItemLen = 12
)

var errBDB = errors.New("bad berkeleydb file")

// bdbValues calls fn with every value of the BerkeleyDB hash database in
// f (size bytes) that is stored on overflow pages, which is where rpm's
// Packages keeps each header blob (the keys are 4-byte package numbers).
// It is written for hostile input: every offset is checked against the
// page, every overflow page may be read once only (a loop or a page
// shared by two values is an error), and a value may not exceed its
// stated length or rpm's header limit, so the work done is bounded by the
// size of the file.
//
// go-rpmdb (2021) reads this format too, but trusts it. Tried on the
// damaged files of TestBDBValues: an entry offset past its page panics in
// the goroutine go-rpmdb reads in, where no recover of the caller's can
// catch it; an overflow chain reaching a page of another type spins
// forever; a chain that loops grows memory without bound (300 MiB in 3 s).
func bdbValues(ctx context.Context, f io.ReaderAt, size int64, fn func([]byte) error) error {
	meta := make([]byte, 512)
	if _, err := f.ReadAt(meta, 0); err != nil {
		return fmt.Errorf("%w: read metadata page: %v", errBDB, err)
	}
	if m := binary.LittleEndian.Uint32(meta[12:16]); m != bdbHashMagic {
		if binary.BigEndian.Uint32(meta[12:16]) == bdbHashMagic {
			return fmt.Errorf("%w: big-endian hash database, not read", errBDB)
		}
		return fmt.Errorf("%w: magic %#x is not a hash database's", errBDB, m)
	}
	pageSize := binary.LittleEndian.Uint32(meta[20:24])
	if pageSize < 512 || pageSize > 65536 || pageSize&(pageSize-1) != 0 {
		return fmt.Errorf("%w: page size %d", errBDB, pageSize)
	}
	if meta[24] != 0 {
		return fmt.Errorf("%w: encrypted (algorithm %d)", errBDB, meta[24])
	}
	if meta[25] != bdbPageHashMeta {
		return fmt.Errorf("%w: first page has type %d, not hash metadata", errBDB, meta[25])
	}
	last := int64(binary.LittleEndian.Uint32(meta[32:36]))
	if (last+1)*int64(pageSize) > size {
		return fmt.Errorf("%w: last page %d of %d bytes past the end of %d bytes", errBDB, last, pageSize, size)
	}
	readPage := func(buf []byte, n int64) error {
		if _, err := f.ReadAt(buf, n*int64(pageSize)); err != nil {
			return fmt.Errorf("%w: read page %d: %v", errBDB, n, err)
		}
		return nil
	}
	page := make([]byte, pageSize)
	ovf := make([]byte, pageSize)
	used := make([]bool, last+1) // overflow pages already read
	for n := int64(1); n <= last; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := readPage(page, n); err != nil {
			return err
		}
		if t := page[25]; t != bdbPageHash && t != bdbPageHashOld {
			continue
		}
		entries := int(binary.LittleEndian.Uint16(page[20:22]))
		if bdbPageHeaderLen+2*entries > len(page) {
			return fmt.Errorf("%w: page %d: %d entries", errBDB, n, entries)
		}
		// Entries are key, value, key, value...: the values are the odd ones.
		for i := 1; i < entries; i += 2 {
			at := int(binary.LittleEndian.Uint16(page[bdbPageHeaderLen+2*i:]))
			if at >= len(page) {
				return fmt.Errorf("%w: page %d: entry %d at offset %d", errBDB, n, i, at)
			}
			if page[at] != bdbItemOffPage {
				continue // a value on the page: rpm's record 0, the next package number
			}
			if at+bdbOffPageItemLen > len(page) {
				return fmt.Errorf("%w: page %d: entry %d at offset %d", errBDB, n, i, at)
			}
			item := page[at : at+bdbOffPageItemLen]
			v, err := bdbOverflow(item, ovf, used, readPage)
			if err != nil {
				return fmt.Errorf("page %d, entry %d: %w", n, i, err)
			}
			if err := fn(v); err != nil {
				return err
			}
		}
	}
	return nil
}

// bdbOverflow reads the value an H_OFFPAGE item names: a chain of
// overflow pages, each holding its share of the value after the page
// header.
func bdbOverflow(item, buf []byte, used []bool, readPage func([]byte, int64) error) ([]byte, error) {
	next := int64(binary.LittleEndian.Uint32(item[4:8]))
	total := binary.LittleEndian.Uint32(item[8:12])
	if total > rpmMaxHeaderLen {
		return nil, fmt.Errorf("%w: value of %d bytes", errBDB, total)
	}
	if int64(total) > int64(len(used))*int64(len(buf)) {
		return nil, fmt.Errorf("%w: value of %d bytes larger than the file", errBDB, total)
	}
	v := make([]byte, 0, total)
	for next != 0 {
		if next >= int64(len(used)) || used[next] {
			return nil, fmt.Errorf("%w: overflow page %d past the end or read twice", errBDB, next)
		}
		used[next] = true
		if err := readPage(buf, next); err != nil {
			return nil, err
		}
		if buf[25] != bdbPageOverflow {
			return nil, fmt.Errorf("%w: overflow chain reaches page %d of type %d", errBDB, next, buf[25])
		}
		// On an overflow page, the high free offset is the length of the
		// data it holds.
		n := int(binary.LittleEndian.Uint16(buf[22:24]))
		if bdbPageHeaderLen+n > len(buf) || len(v)+n > int(total) {
			return nil, fmt.Errorf("%w: overflow page %d holds %d bytes", errBDB, next, n)
		}
		v = append(v, buf[bdbPageHeaderLen:bdbPageHeaderLen+n]...)
		next = int64(binary.LittleEndian.Uint32(buf[16:20]))
	}
	if len(v) != int(total) {
		return nil, fmt.Errorf("%w: value of %d bytes has %d", errBDB, total, len(v))
	}
	return v, nil
}
