package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/internal/platform"
	"github.com/builderdev/builder/store"
)

// infoOptions are the flags of `builder info`.
type infoOptions struct {
	format string
	// binfmtDir and detect are the machine's; tests replace them.
	binfmtDir string
	detect    func() (executor.Isolation, error)
}

func (o *infoOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.format, "format", "text", "output format: text, or json")
}

func infoCommand() command {
	o := &infoOptions{binfmtDir: platform.BinfmtDir, detect: executor.Detect}
	return command{name: "info", usage: "[flags]", summary: "Show the version, store root, isolation levels and platforms this machine can build for.", run: o.run, flags: o.AddFlags}
}

// infoReport is what `builder info --format json` prints.
type infoReport struct {
	Version   string         `json:"version"`
	Root      string         `json:"root"`
	Isolation infoIsolation  `json:"isolation"`
	Platforms []infoPlatform `json:"platforms"`
	// Unusable are emulators registered without the F flag: they do not
	// work inside a build step's root.
	Unusable []infoPlatform `json:"unusable,omitempty"`
}

type infoIsolation struct {
	Auto      string   `json:"auto"` // what --isolation=auto picks
	Available []string `json:"available"`
	Error     string   `json:"error,omitempty"`
}

type infoPlatform struct {
	Platform string `json:"platform"`
	// Emulator is the binfmt_misc handler ("" for a native platform) and
	// Interpreter its program.
	Emulator    string `json:"emulator,omitempty"`
	Interpreter string `json:"interpreter,omitempty"`
}

func (o *infoOptions) run(_ context.Context, g *globalOptions, args []string, s stdio) error {
	if len(args) != 0 {
		return usageError(errors.New(`"builder info" takes no arguments`))
	}
	if o.format != "text" && o.format != "json" {
		return usageError(fmt.Errorf("invalid --format %q: want text or json", o.format))
	}
	rep := infoReport{Version: version, Root: g.root}
	if rep.Root == "" {
		rep.Root = store.DefaultRoot(os.Getenv, os.Geteuid())
	}
	rep.Isolation = o.isolation()
	sup, err := platform.Detect(o.binfmtDir)
	if err != nil {
		return err
	}
	for _, p := range sup.Native {
		rep.Platforms = append(rep.Platforms, infoPlatform{Platform: platform.String(p)})
	}
	for _, e := range sup.Emulators {
		ip := infoPlatform{Platform: platform.String(e.Platform), Emulator: e.Name, Interpreter: e.Interpreter}
		if e.Usable() {
			rep.Platforms = append(rep.Platforms, ip)
		} else {
			rep.Unusable = append(rep.Unusable, ip)
		}
	}
	if o.format == "json" {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	fmt.Fprintf(s.out, "Version:     %s\n", rep.Version)
	fmt.Fprintf(s.out, "Store root:  %s\n", rep.Root)
	if rep.Isolation.Error != "" {
		fmt.Fprintf(s.out, "Isolation:   none works here: %s\n", rep.Isolation.Error)
	} else {
		fmt.Fprintf(s.out, "Isolation:   %s (auto: %s)\n", strings.Join(rep.Isolation.Available, ", "), rep.Isolation.Auto)
	}
	fmt.Fprintln(s.out, "Platforms:")
	for _, p := range rep.Platforms {
		how := "native"
		if p.Emulator != "" {
			how = "emulated, binfmt_misc " + p.Emulator + " (" + p.Interpreter + ")"
		}
		fmt.Fprintf(s.out, "  %-16s %s\n", p.Platform, how)
	}
	for _, p := range rep.Unusable {
		fmt.Fprintf(s.out, "  %-16s not usable: binfmt_misc %s has no F flag\n", p.Platform, p.Emulator)
	}
	if len(rep.Platforms) == len(sup.Native) {
		fmt.Fprintf(s.out, "No emulators: install %s to build RUN steps for other platforms.\n", platform.EmulatorPackage)
	}
	return nil
}

// isolation lists the levels that work here: the one auto picks and the
// weaker ones (whoever can use namespaces as root can chroot; rootless
// needs a non-root user with user namespaces).
func (o *infoOptions) isolation() infoIsolation {
	level, err := o.detect()
	if err != nil {
		return infoIsolation{Error: err.Error(), Available: []string{}}
	}
	out := infoIsolation{Auto: string(level)}
	switch level {
	case executor.Namespace:
		out.Available = []string{string(executor.Namespace), string(executor.Chroot)}
	default:
		out.Available = []string{string(level)}
	}
	return out
}
