package solver

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSSHProxyForwards checks that a connection to the step's socket
// reaches the agent (also at a path too long for a socket address, and
// after the socket file was renamed, as the chroot level moves it), and
// that close ends it all.
func TestSSHProxyForwards(t *testing.T) {
	dir := t.TempDir()
	agentPath := filepath.Join(dir, "agent.sock")
	agent, err := net.Listen("unix", agentPath)
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	go func() {
		for {
			c, err := agent.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 5)
				if _, err := io.ReadFull(c, buf); err == nil {
					_, _ = c.Write(append([]byte("agent:"), buf...))
				}
			}()
		}
	}()

	long := filepath.Join(dir, strings.Repeat("d", 100))
	if err := os.Mkdir(long, 0o755); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(long, "ssh0")
	p, err := newSSHProxy(context.Background(), sock, agentPath, os.Getuid(), os.Getgid(), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("proxy socket: %v, %v; want a 0600 socket", fi, err)
	}
	moved := filepath.Join(dir, "moved")
	if err := os.Rename(sock, moved); err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", moved)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("agent:hello"))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "agent:hello" {
		t.Fatalf("through the proxy: %q, %v; want agent:hello", got, err)
	}
	if err := p.close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	if n, err := c.Read(got); err == nil {
		t.Errorf("connection still open after close (read %d bytes)", n)
	}
	c.Close()
	if c, err := net.Dial("unix", moved); err == nil {
		c.Close()
		t.Errorf("the proxy still accepts after close")
	}
}

// TestSSHProxyNeedsASocket checks that a path that is not a socket is
// refused (key files are not supported).
func TestSSHProxyNeedsASocket(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(key, []byte("key"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := newSSHProxy(context.Background(), filepath.Join(dir, "s"), key, 0, 0, 0o600)
	if err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Fatalf("newSSHProxy: %v, want a not-a-socket error", err)
	}
}
