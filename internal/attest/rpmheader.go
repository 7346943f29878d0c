package attest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// The rpm header tags and types an SBOM needs (rpm's rpmtag.h).
const (
	rpmTagName      = 1000
	rpmTagVersion   = 1001
	rpmTagRelease   = 1002
	rpmTagEpoch     = 1003
	rpmTagLicense   = 1014
	rpmTagArch      = 1022
	rpmTagSourceRPM = 1044

	rpmTypeInt32       = 4
	rpmTypeString      = 6
	rpmTypeStringArray = 8
	rpmTypeI18NString  = 9
)

// rpm's own limits on a header (header.c: hdrchkTags, headerMaxbytes).
const (
	rpmMaxTags      = 0xffff
	rpmMaxHeaderLen = 256 << 20
)

var errRPMHeader = errors.New("bad rpm header")

// rpmHeader is what an SBOM takes from one installed package's header.
type rpmHeader struct {
	Name, Version, Release, Arch, License, SourceRPM string
	// Epoch is "" when the header has no EPOCH tag.
	Epoch string
}

// parseRPMHeader reads the header blob of one installed package, as rpm
// stores it in every database backend: the number of index entries and
// the length of the data (big-endian int32s), the entries (tag, type,
// offset into the data, count: 16 bytes each), then the data. Only the
// tags of rpmHeader are read; the region tags and signatures are not
// checked. Every length and offset is checked against the blob, so any
// input yields a header or an error wrapping errRPMHeader.
func parseRPMHeader(b []byte) (rpmHeader, error) {
	var h rpmHeader
	if len(b) < 8 {
		return h, fmt.Errorf("%w: %d bytes", errRPMHeader, len(b))
	}
	il := binary.BigEndian.Uint32(b[0:4])
	dl := binary.BigEndian.Uint32(b[4:8])
	if il < 1 || il > rpmMaxTags {
		return h, fmt.Errorf("%w: %d index entries", errRPMHeader, il)
	}
	if dl > rpmMaxHeaderLen {
		return h, fmt.Errorf("%w: %d bytes of data", errRPMHeader, dl)
	}
	dataStart := 8 + 16*int64(il)
	if dataStart+int64(dl) > int64(len(b)) {
		return h, fmt.Errorf("%w: %d index entries and %d bytes of data in %d bytes", errRPMHeader, il, dl, len(b))
	}
	index, data := b[8:dataStart], b[dataStart:dataStart+int64(dl)]
	for i := 0; i < len(index); i += 16 {
		e := index[i : i+16]
		tag := int32(binary.BigEndian.Uint32(e[0:4]))
		typ := binary.BigEndian.Uint32(e[4:8])
		off := int32(binary.BigEndian.Uint32(e[8:12]))
		count := binary.BigEndian.Uint32(e[12:16])
		var dst *string
		switch tag {
		case rpmTagName:
			dst = &h.Name
		case rpmTagVersion:
			dst = &h.Version
		case rpmTagRelease:
			dst = &h.Release
		case rpmTagArch:
			dst = &h.Arch
		case rpmTagLicense:
			dst = &h.License
		case rpmTagSourceRPM:
			dst = &h.SourceRPM
		case rpmTagEpoch:
			dst = &h.Epoch
		default:
			continue
		}
		if off < 0 || int64(off) >= int64(len(data)) || count < 1 {
			return h, fmt.Errorf("%w: tag %d at offset %d, count %d, in %d bytes of data", errRPMHeader, tag, off, count, len(data))
		}
		v := data[off:]
		switch {
		case tag == rpmTagEpoch && typ == rpmTypeInt32:
			if len(v) < 4 {
				return h, fmt.Errorf("%w: tag %d at offset %d past the data", errRPMHeader, tag, off)
			}
			*dst = strconv.FormatUint(uint64(binary.BigEndian.Uint32(v)), 10)
		case tag != rpmTagEpoch && (typ == rpmTypeString || typ == rpmTypeStringArray || typ == rpmTypeI18NString):
			// An array or an i18n string: its first element (the C
			// locale's, for i18n).
			n := bytes.IndexByte(v, 0)
			if n < 0 {
				return h, fmt.Errorf("%w: tag %d: string not terminated", errRPMHeader, tag)
			}
			*dst = string(v[:n])
		default:
			return h, fmt.Errorf("%w: tag %d has type %d", errRPMHeader, tag, typ)
		}
	}
	if h.Name == "" {
		return h, fmt.Errorf("%w: no name", errRPMHeader)
	}
	return h, nil
}
