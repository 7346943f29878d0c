package solver

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// keyOf is the sha256 of the canonical JSON encoding of v (struct fields in
// declaration order, map keys sorted): never joined strings.
func keyOf(v any) v1.Hash {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("cache key input is not encodable: %v", err)) // programming error
	}
	sum := sha256.Sum256(data)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
}

// keyInput is everything a vertex's result depends on.
type keyInput struct {
	Version  int               `json:"v"`
	Parent   string            `json:"parent"`
	Kind     string            `json:"kind"`
	Args     any               `json:"args"`
	Env      []string          `json:"env,omitempty"`
	Platform string            `json:"platform"`
	Inputs   map[string]string `json:"inputs,omitempty"` // files, stages read
}

const keyVersion = 1
