package layer

import (
	"fmt"
	"strings"
)

// Limits of the kernel (PATH_MAX, NAME_MAX): a tar entry over them could
// be planned but never extracted.
const (
	MaxPath = 4095
	MaxName = 255
)

// CheckName refuses a tar entry name no file system can hold, before any
// system call is made for it.
func CheckName(name string) error {
	if len(name) > MaxPath {
		return fmt.Errorf("name is %d bytes long, over the kernel's limit of %d", len(name), MaxPath)
	}
	for _, c := range strings.Split(name, "/") {
		if len(c) > MaxName {
			return fmt.Errorf("path component is %d bytes long, over the kernel's limit of %d", len(c), MaxName)
		}
	}
	return nil
}
