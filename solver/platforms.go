package solver

import (
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/platform"
	"github.com/builderdev/builder/parser"
)

// WithBinfmtDir is where the kernel lists binfmt_misc emulators (default
// platform.BinfmtDir); RUN steps for another platform need one.
func WithBinfmtDir(dir string) Option { return func(s *Solver) { s.binfmtDir = dir } }

// support is what this machine can run, read once.
func (s *Solver) support() (*platform.Support, error) {
	s.supportOnce.Do(func() {
		dir := s.binfmtDir
		if dir == "" {
			dir = platform.BinfmtDir
		}
		s.supported, s.supportErr = platform.Detect(dir)
	})
	return s.supported, s.supportErr
}

// canRun says why a RUN step for p cannot execute here, if it cannot.
func (s *Solver) canRun(p v1.Platform) error {
	sup, err := s.support()
	if err != nil {
		return err
	}
	return sup.Check(p)
}

// checkPlatforms fails before any step runs when a stage this build runs
// has a RUN for a platform with no emulator here.
func (b *build) checkPlatforms() error {
	for i, sr := range b.stages {
		if !sr.needed || b.external[i] {
			continue
		}
		for _, in := range sr.stage.Instructions {
			if r, ok := in.(*parser.Run); ok {
				if err := b.s.canRun(sr.platform); err != nil {
					return locErr(r.Location(), err)
				}
				break
			}
		}
	}
	return nil
}
