package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/builderdev/builder/store"
)

// Fsck checks the store (store.Fsck) and then the cache records: each one
// parses, and the layer it records is a blob the store holds intact. With
// repair the store drops what is broken first, then the records that point
// at a missing or damaged layer (and unreadable records) are dropped; a
// healthy record is never touched. Records of another format version are
// misses, not problems.
func (c *Cache) Fsck(ctx context.Context, repair bool) (*store.FsckReport, error) {
	rep, err := c.store.Fsck(ctx, repair)
	if err != nil {
		return nil, err
	}
	damaged := map[string]bool{}
	for _, p := range rep.Problems {
		if p.Kind == "blob" {
			damaged[p.Name] = true
		}
	}
	inv := &inventory{}
	if err := c.scanRecordFiles(ctx, inv); err != nil {
		return nil, fmt.Errorf("check cache records: %w", err)
	}
	for _, re := range inv.records {
		var detail string
		switch {
		case re.rec == nil && !c.otherVersion(re.path):
			detail = "unreadable record"
		case re.rec == nil || re.rec.Layer == nil:
			continue
		case damaged[re.rec.Layer.Digest.String()]:
			detail = "layer " + re.rec.Layer.Digest.String() + " is damaged"
		case !c.store.HasBlob(ctx, re.rec.Layer.Digest):
			detail = "layer " + re.rec.Layer.Digest.String() + " is missing"
		default:
			continue
		}
		name := re.key.String()
		if re.key.Hex == "" {
			name = re.path
		}
		p := store.Problem{Kind: "record", Name: name, Detail: detail}
		if repair {
			if err := c.removeRecord(re.path); err != nil {
				return nil, fmt.Errorf("drop cache record: %w", err)
			}
			p.Repaired = true
		}
		rep.Problems = append(rep.Problems, p)
	}
	if repair {
		c.cleanIndex(inv, nil, false)
	}
	return rep, nil
}

// otherVersion reports whether the record file at path is of another
// format version (or went away meanwhile).
func (c *Cache) otherVersion(path string) bool {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	var v struct {
		Version int `json:"version"`
	}
	return err == nil && json.Unmarshal(data, &v) == nil && v.Version != recordVersion
}
