package platform

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BinfmtDir is where the kernel shows binfmt_misc handlers.
const BinfmtDir = "/proc/sys/fs/binfmt_misc"

// EmulatorPackage is the Debian package that provides the emulators.
const EmulatorPackage = "qemu-user-static"

// Emulator is one enabled binfmt_misc handler for ELF binaries of a
// platform.
type Emulator struct {
	Platform    v1.Platform
	Name        string // the handler's name ("qemu-aarch64")
	Interpreter string
	Flags       string
}

// Usable reports whether the handler works inside a build step's root: the
// F flag makes the kernel open the interpreter at registration, so the root
// needs no copy of it.
func (e Emulator) Usable() bool { return strings.Contains(e.Flags, "F") }

// Support is what this machine can run.
type Support struct {
	Native    []v1.Platform // the host's platform and its compatible ones
	Emulators []Emulator    // enabled handlers, usable or not, by platform
}

// Detect reads the binfmt_misc handlers in dir (BinfmtDir on a real
// machine). A missing or unmounted dir means no emulators, not an error.
func Detect(dir string) (*Support, error) {
	s := &Support{Native: nativePlatforms(Host())}
	if st, err := os.ReadFile(filepath.Join(dir, "status")); err != nil || strings.TrimSpace(string(st)) != "enabled" {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read binfmt_misc status: %w", err)
		}
		return s, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read binfmt_misc handlers: %w", err)
	}
	for _, e := range entries {
		if e.Name() == "status" || e.Name() == "register" {
			continue
		}
		em, ok, err := readHandler(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if ok && !s.native(em.Platform) {
			em.Name = e.Name()
			s.Emulators = append(s.Emulators, em)
		}
	}
	sort.Slice(s.Emulators, func(i, j int) bool {
		return String(s.Emulators[i].Platform) < String(s.Emulators[j].Platform)
	})
	return s, nil
}

func (s *Support) native(p v1.Platform) bool {
	for _, n := range s.Native {
		if Same(n, p) {
			return true
		}
	}
	return false
}

// CanRun reports whether a RUN step for p can execute here.
func (s *Support) CanRun(p v1.Platform) bool {
	if s.native(p) {
		return true
	}
	for _, e := range s.Emulators {
		if e.Usable() && covers(e.Platform, p) {
			return true
		}
	}
	return false
}

// Platforms lists what can run here, native first, as "os/arch[/variant]".
func (s *Support) Platforms() []string {
	var out []string
	for _, n := range s.Native {
		out = append(out, String(n))
	}
	for _, e := range s.Emulators {
		if e.Usable() {
			out = append(out, String(e.Platform))
		}
	}
	return out
}

// Check returns an error naming the package to install for the first
// platform of ps this machine cannot run.
func (s *Support) Check(ps ...v1.Platform) error {
	for _, p := range ps {
		if s.CanRun(p) {
			continue
		}
		for _, e := range s.Emulators {
			if covers(e.Platform, p) {
				return fmt.Errorf("cannot run steps for %s on %s: the binfmt_misc handler %s is registered without the F flag, so it does not work inside a build root (register it again from /usr/lib/binfmt.d/ with flags F)",
					String(p), String(Host()), e.Name)
			}
		}
		return fmt.Errorf("cannot run steps for %s on %s: no emulator; install %s (apt-get install %s) and register its binfmt_misc handlers (runs here: %s)",
			String(p), String(Host()), EmulatorPackage, EmulatorPackage, strings.Join(s.Platforms(), ", "))
	}
	return nil
}

// covers reports whether an emulator for have runs binaries of want: the
// ELF header names no variant, so qemu-arm runs arm/v5, v6 and v7.
func covers(have, want v1.Platform) bool {
	have, want = Normalize(have), Normalize(want)
	return have.OS == want.OS && have.Architecture == want.Architecture
}

func nativePlatforms(host v1.Platform) []v1.Platform {
	out := []v1.Platform{host}
	if host.Architecture == "amd64" {
		out = append(out, v1.Platform{OS: "linux", Architecture: "386"})
	}
	return out
}

// readHandler parses one handler file; ok is false for a disabled handler
// or one that is not for ELF executables of a platform we know.
func readHandler(file string) (Emulator, bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return Emulator{}, false, fmt.Errorf("read binfmt_misc handler: %w", err)
	}
	defer f.Close()
	var em Emulator
	var magic []byte
	enabled, offset := false, "0"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		switch k {
		case "enabled":
			enabled = true
		case "interpreter":
			em.Interpreter = v
		case "flags:":
			em.Flags = v
		case "offset":
			offset = v
		case "magic":
			magic, _ = hex.DecodeString(v)
		}
	}
	if err := sc.Err(); err != nil {
		return Emulator{}, false, fmt.Errorf("read binfmt_misc handler %s: %w", file, err)
	}
	if !enabled || offset != "0" {
		return Emulator{}, false, nil
	}
	p, ok := elfPlatform(magic)
	em.Platform = p
	return em, ok, nil
}

// ELF e_machine values (elf.h).
var machines = []struct {
	class, data byte // 1: 32-bit, 2: 64-bit; 1: little, 2: big endian
	machine     uint16
	arch        string
}{
	{2, 1, 0x3e, "amd64"},
	{1, 1, 0x03, "386"},
	{2, 1, 0xb7, "arm64"},
	{1, 1, 0x28, "arm"},
	{2, 1, 0x15, "ppc64le"},
	{2, 2, 0x16, "s390x"},
	{2, 1, 0xf3, "riscv64"},
	{2, 1, 0x08, "mips64le"},
	{2, 1, 0x102, "loong64"},
}

// elfPlatform reads the platform a handler's magic (an ELF header prefix)
// matches.
func elfPlatform(magic []byte) (v1.Platform, bool) {
	if len(magic) < 20 || !bytes.Equal(magic[:4], []byte("\x7fELF")) {
		return v1.Platform{}, false
	}
	class, data := magic[4], magic[5]
	var m uint16
	if data == 2 {
		m = binary.BigEndian.Uint16(magic[18:20])
	} else {
		m = binary.LittleEndian.Uint16(magic[18:20])
	}
	for _, e := range machines {
		if e.class == class && e.data == data && e.machine == m {
			return Normalize(v1.Platform{OS: "linux", Architecture: e.arch}), true
		}
	}
	return v1.Platform{}, false
}
