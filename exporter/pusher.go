package exporter

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/registry"
)

// Pusher pushes images through one set of registry options and remembers
// the refs it pushed: a later push to another repository mounts the blobs
// an earlier one uploaded instead of uploading them again. The refs of its
// exporters, in the order they were made, are one plan: a failed push of
// a plan of several refs says which were pushed and which not. It is safe
// for concurrent use, but pushes of one build run one after the other.
type Pusher struct {
	opts   []registry.Option
	report func(Pushed)

	mu      sync.Mutex
	done    []string
	planned []string // the refs of every Exporter, in order
}

// PushOption configures a Pusher.
type PushOption func(*Pusher)

// WithRegistryOptions says how to reach registries (keychain, transport,
// retries, jobs).
func WithRegistryOptions(opts ...registry.Option) PushOption {
	return func(p *Pusher) { p.opts = append(p.opts, opts...) }
}

// WithPushReport has fn hear of each finished push, as it finishes.
func WithPushReport(fn func(Pushed)) PushOption { return func(p *Pusher) { p.report = fn } }

// NewPusher returns a Pusher.
func NewPusher(opts ...PushOption) *Pusher {
	p := &Pusher{}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Exporter returns the exporter that pushes to refs through p, converted
// as conv says (compression, media types; none pushes the image as it is).
func (p *Pusher) Exporter(refs []string, conv ...Option) Exporter {
	p.mu.Lock()
	p.planned = append(p.planned, refs...)
	p.mu.Unlock()
	return &pushExporter{p: p, refs: refs, conv: conv}
}

// Push converts img once as conv says and pushes it to every ref in turn.
// It returns the pushes that finished, also on error; the manifest digest
// is the same for all. A failure of a push to several refs says which
// were pushed (each a complete image) and which not (each untouched).
func (p *Pusher) Push(ctx context.Context, img v1.Image, refs []string, conv ...Option) ([]Pushed, error) {
	out, err := p.push(ctx, img, refs, conv)
	return out, pushedOf(out, refs, err)
}

// exportPush is Push for an exporter of p: a failure says which refs of
// the whole plan (every exporter of p) were pushed and which not.
func (p *Pusher) exportPush(ctx context.Context, img v1.Image, refs []string, conv []Option) ([]Pushed, error) {
	return p.ofPlan(p.push(ctx, img, refs, conv))
}

// ofPlan adds to a failed push of an exporter of p which refs of the
// whole plan were pushed and which not.
func (p *Pusher) ofPlan(out []Pushed, err error) ([]Pushed, error) {
	if err == nil {
		return out, nil
	}
	p.mu.Lock()
	done, all := append([]string(nil), p.done...), append([]string(nil), p.planned...)
	p.mu.Unlock()
	return out, partialPush(err, done, all)
}

// pushedOf adds to a failed push of refs which of them (out) were pushed.
func pushedOf(out []Pushed, refs []string, err error) error {
	if err == nil {
		return nil
	}
	var done []string
	for _, x := range out {
		done = append(done, x.Ref)
	}
	return partialPush(err, done, refs)
}

// push converts img as conv says and pushes it to every ref.
func (p *Pusher) push(ctx context.Context, img v1.Image, refs []string, conv []Option) ([]Pushed, error) {
	if len(refs) == 0 {
		return nil, errNoName
	}
	img, release, err := Convert(ctx, img, conv...)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	defer release()
	size, err := img.Size()
	if err != nil {
		return nil, fmt.Errorf("push: manifest size: %w", err)
	}
	return p.each(refs, func(ref string, opts []registry.Option) (v1.Hash, int64, error) {
		d, err := Push(ctx, img, ref, opts...)
		return d, size, err
	})
}

// pushIndex builds the index of imgs once (BuildIndex), converted as conv
// says, and pushes it to every ref.
func (p *Pusher) pushIndex(ctx context.Context, imgs []PlatformImage, refs []string, conv []Option) ([]Pushed, error) {
	if len(refs) == 0 {
		return nil, errNoName
	}
	idx, release, err := BuildIndex(ctx, imgs, conv...)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	defer release()
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	return p.each(refs, func(ref string, opts []registry.Option) (v1.Hash, int64, error) {
		d, err := PushIndex(ctx, idx, ref, opts...)
		return d, int64(len(raw)), err
	})
}

var errNoName = errors.New("push: no image name (use -t NAME or name=NAME)")

// each is the one push loop: it runs one (a push of an image or an index
// to ref) for every ref in turn, with p's registry options and a mount
// source for every ref pushed before, records each finished push and
// reports it. It stops at the first failure and returns the pushes that
// finished.
func (p *Pusher) each(refs []string, one func(ref string, opts []registry.Option) (v1.Hash, int64, error)) ([]Pushed, error) {
	var out []Pushed
	for _, ref := range refs {
		opts := append([]registry.Option{}, p.opts...)
		for _, prev := range p.pushed() {
			if r, err := registry.ParseReference(prev, opts...); err == nil {
				opts = append(opts, registry.WithMountFrom(r.Context().String()))
			}
		}
		d, size, err := one(ref, opts)
		if err != nil {
			return out, err
		}
		p.mu.Lock()
		p.done = append(p.done, ref)
		p.mu.Unlock()
		pu := Pushed{Ref: ref, Digest: d, Size: size}
		out = append(out, pu)
		if p.report != nil {
			p.report(pu)
		}
	}
	return out, nil
}

// partialPush adds to a failed push of several refs (all, in push order)
// which were pushed (done, a prefix of all) and which not.
func partialPush(err error, done, all []string) error {
	if len(all) < 2 || len(done) > len(all) {
		return err
	}
	pushed := "none"
	if len(done) > 0 {
		pushed = strings.Join(done, ", ")
	}
	return fmt.Errorf("%w (pushed: %s; not pushed: %s)", err, pushed, strings.Join(all[len(done):], ", "))
}

// pushed returns a copy of the refs pushed so far.
func (p *Pusher) pushed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.done...)
}
