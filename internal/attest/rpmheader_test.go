package attest

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// hdrEntry is one tag of a header blob built by headerBlob.
type hdrEntry struct {
	tag, typ uint32
	data     []byte
	count    uint32
}

func str(tag uint32, s string) hdrEntry {
	return hdrEntry{tag: tag, typ: rpmTypeString, data: append([]byte(s), 0), count: 1}
}

func i32(tag uint32, v uint32) hdrEntry {
	return hdrEntry{tag: tag, typ: rpmTypeInt32, data: binary.BigEndian.AppendUint32(nil, v), count: 1}
}

// headerBlob encodes entries as rpm stores a header in its database,
// int32 data aligned to 4 bytes.
func headerBlob(entries ...hdrEntry) []byte {
	var index, data []byte
	for _, e := range entries {
		if e.typ == rpmTypeInt32 {
			for len(data)%4 != 0 {
				data = append(data, 0)
			}
		}
		for _, v := range []uint32{e.tag, e.typ, uint32(len(data)), e.count} {
			index = binary.BigEndian.AppendUint32(index, v)
		}
		data = append(data, e.data...)
	}
	b := binary.BigEndian.AppendUint32(nil, uint32(len(entries)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	return append(append(b, index...), data...)
}

func TestParseRPMHeader(t *testing.T) {
	full := headerBlob(
		hdrEntry{tag: 63, typ: 7, data: make([]byte, 16), count: 16}, // a region tag, ignored
		str(rpmTagName, "bash"), str(rpmTagVersion, "5.2.26"), str(rpmTagRelease, "3.fc40"),
		i32(rpmTagEpoch, 0), str(rpmTagArch, "x86_64"), str(rpmTagSourceRPM, "bash-5.2.26-3.fc40.src.rpm"),
		hdrEntry{tag: rpmTagLicense, typ: rpmTypeI18NString, data: []byte("GPL-3.0-or-later\x00Lizenz\x00"), count: 2},
	)
	got, err := parseRPMHeader(full)
	if err != nil {
		t.Fatal(err)
	}
	want := rpmHeader{Name: "bash", Version: "5.2.26", Release: "3.fc40", Epoch: "0", Arch: "x86_64", License: "GPL-3.0-or-later", SourceRPM: "bash-5.2.26-3.fc40.src.rpm"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}

	noEpoch, err := parseRPMHeader(headerBlob(str(rpmTagName, "a"), str(rpmTagVersion, "1"), str(rpmTagRelease, "1")))
	if err != nil || noEpoch.Epoch != "" {
		t.Errorf("header without EPOCH: %+v, %v", noEpoch, err)
	}

	bad := map[string][]byte{
		"empty":            nil,
		"no entries":       {0, 0, 0, 0, 0, 0, 0, 0},
		"too many entries": {0, 1, 0, 0, 0, 0, 0, 0},
		"truncated":        full[:len(full)-1],
		"no name":          headerBlob(str(rpmTagVersion, "1")),
		"unterminated":     headerBlob(hdrEntry{tag: rpmTagName, typ: rpmTypeString, data: []byte("bash"), count: 1}),
		"epoch as string":  headerBlob(str(rpmTagName, "a"), str(rpmTagEpoch, "1")),
		"name as int32":    headerBlob(i32(rpmTagName, 1)),
		"short epoch":      headerBlob(str(rpmTagName, "a"), hdrEntry{tag: rpmTagEpoch, typ: rpmTypeInt32, data: []byte{1}, count: 1}),
	}
	offPast := headerBlob(str(rpmTagName, "bash"))
	binary.BigEndian.PutUint32(offPast[8+8:], 5) // the name's offset: the data is 5 bytes
	bad["offset past the data"] = offPast
	negOff := headerBlob(str(rpmTagName, "bash"))
	binary.BigEndian.PutUint32(negOff[8+8:], 0xfffffff0)
	bad["negative offset"] = negOff
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			if h, err := parseRPMHeader(b); !errors.Is(err, errRPMHeader) {
				t.Errorf("got %+v, %v; want an error wrapping errRPMHeader", h, err)
			}
		})
	}
}

// FuzzRPMHeader: any input yields a header with a name or an error
// wrapping errRPMHeader, and never a panic.
func FuzzRPMHeader(f *testing.F) {
	f.Add(headerBlob(str(rpmTagName, "bash"), str(rpmTagVersion, "5.2"), str(rpmTagRelease, "1"), i32(rpmTagEpoch, 2),
		str(rpmTagArch, "noarch"), hdrEntry{tag: rpmTagLicense, typ: rpmTypeI18NString, data: []byte("MIT\x00"), count: 1}))
	f.Add(headerBlob(hdrEntry{tag: rpmTagName, typ: rpmTypeStringArray, data: []byte("a\x00b\x00"), count: 2}))
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseRPMHeader(b)
		if err != nil {
			if !errors.Is(err, errRPMHeader) {
				t.Fatalf("error %v does not wrap errRPMHeader", err)
			}
			return
		}
		if h.Name == "" {
			t.Fatal("a header without a name")
		}
	})
}
