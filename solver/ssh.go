package solver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
)

// sshProxy serves an SSH agent socket of the builder's host to one RUN
// step: a new socket in the run's own directory that forwards every
// connection to the agent's. Mounted (or, at the chroot level, moved) at
// the step's target, it works without exposing the host's socket path.
type sshProxy struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns map[net.Conn]bool
}

// newSSHProxy listens at path and forwards to the agent socket agent.
func newSSHProxy(ctx context.Context, path, agent string, uid, gid int, mode os.FileMode) (*sshProxy, error) {
	if fi, err := os.Stat(agent); err != nil {
		return nil, fmt.Errorf("ssh agent socket: %w", err)
	} else if fi.Mode()&os.ModeSocket == 0 {
		return nil, fmt.Errorf("ssh agent socket: %s is not a socket (only agent sockets are supported)", agent)
	}
	ln, err := listenUnix(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("listen for ssh agent: %w", err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	if err := os.Chown(path, uid, gid); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ssh agent socket: %w", err)
	}
	if err := os.Chmod(path, mode); err != nil {
		ln.Close()
		return nil, fmt.Errorf("ssh agent socket: %w", err)
	}
	p := &sshProxy{ln: ln, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve(agent)
	return p, nil
}

func (p *sshProxy) serve(agent string) {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // closed
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.forward(c, agent)
		}()
	}
}

// forward copies both ways between c and a new connection to the agent.
func (p *sshProxy) forward(c net.Conn, agent string) {
	a, err := net.Dial("unix", agent)
	if err != nil {
		c.Close()
		return
	}
	if !p.track(c, a) {
		return
	}
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		if cw, ok := dst.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		done <- struct{}{}
	}
	go pipe(a, c)
	go pipe(c, a)
	<-done
	<-done
	p.untrack(c, a)
}

// track records open connections; false (and both closed) once closing.
func (p *sshProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = true
	}
	return true
}

func (p *sshProxy) untrack(cs ...net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		c.Close()
		delete(p.conns, c)
	}
}

// close stops listening, ends every forwarded connection and waits.
func (p *sshProxy) close() error {
	err := p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// listenUnix listens on a unix socket at path. A path too long for a
// socket address (108 bytes) is reached through its directory's
// /proc/self/fd entry.
func listenUnix(ctx context.Context, path string) (net.Listener, error) {
	var lc net.ListenConfig
	if len(path) < 100 {
		return lc.Listen(ctx, "unix", path)
	}
	dir, err := os.Open(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	return lc.Listen(ctx, "unix", fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path)))
}
