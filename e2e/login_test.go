package e2e_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/builderdev/builder/internal/testenv"
)

// ptyOutput collects what a process writes to its terminal.
type ptyOutput struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (p *ptyOutput) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

func (p *ptyOutput) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

// waitFor waits until the output has s after the first from bytes.
func (p *ptyOutput) waitFor(t *testing.T, from int, s string) int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		out := p.String()
		if i := strings.Index(out[from:], s); i >= 0 {
			return from + i + len(s)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no %q on the terminal; it shows:\n%q", s, p.String())
	return 0
}

// login on a terminal prompts for the user name and the password (not
// echoed), as docker login does, and saves them once the registry takes them.
func TestLoginPrompt(t *testing.T) {
	testenv.LeakCheck(t)
	reg := testenv.StartRegistry(t, testenv.WithBasicAuth("e2e", "pa55word"))
	cfg := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, builderBin, "login", reg.Host())
	cmd.Env = builderEnv(t, []string{"DOCKER_CONFIG=" + cfg, "SSL_CERT_FILE=" + reg.CAFile})
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatalf("start builder login on a pty: %v", err)
	}
	defer tty.Close()
	var out ptyOutput
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		buf := make([]byte, 4096)
		for {
			n, err := tty.Read(buf)
			out.Write(buf[:n])
			if err != nil {
				return // EIO once the process has gone
			}
		}
	}()
	at := out.waitFor(t, 0, "Username: ")
	if _, err := tty.Write([]byte("e2e\n")); err != nil {
		t.Fatal(err)
	}
	at = out.waitFor(t, at, "Password: ")
	if _, err := tty.Write([]byte("pa55word\n")); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	<-copied
	shown := out.String()
	if err != nil {
		t.Fatalf("login on a pty: %v\n%s", err, shown)
	}
	if !strings.Contains(shown, "Login Succeeded") {
		t.Errorf("terminal shows:\n%s", shown)
	}
	if strings.Contains(shown, "pa55word") {
		t.Errorf("the password was echoed:\n%s", shown)
	}
	if !strings.Contains(shown, "Username: e2e") {
		t.Errorf("the user name was not echoed:\n%s", shown)
	}
	data, err := os.ReadFile(filepath.Join(cfg, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if want := base64.StdEncoding.EncodeToString([]byte("e2e:pa55word")); !strings.Contains(string(data), want) {
		t.Errorf("config.json lacks the credentials:\n%s", data)
	}

	// Without a terminal and without a password it fails and says what to do.
	r := runBuilder(t, runOpts{env: []string{"DOCKER_CONFIG=" + t.TempDir(), "SSL_CERT_FILE=" + reg.CAFile}}, "login", "-u", "e2e", reg.Host())
	if r.code != 2 || !strings.Contains(r.stderr, "not a terminal") || !strings.Contains(r.stderr, "--password-stdin") {
		t.Errorf("login without a terminal or password:\n%s", r)
	}
}
