package e2e_test

import (
	"archive/tar"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

// A context holding a FIFO and a socket builds the same way every time:
// Docker's context tar keeps a FIFO as a FIFO and skips a socket (the
// daemon logs a warning); builder does the same, without a warning, and
// never hangs opening the FIFO.
func TestContextSpecialFiles(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nCOPY . /ctx/\nRUN ls -l /ctx | cut -c1 | sort | tr -d '\\n'; echo; ls /ctx\n")
	writeFile(t, filepath.Join(ctxDir, "f"), "file\n")
	if err := syscall.Mkfifo(filepath.Join(ctxDir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(ctxDir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := 0; i < 3; i++ {
		r := runBuilder(t, runOpts{}, "--root", root, "build", "--no-cache", "--progress", "plain", "--build-context", busyboxContext(t), ctxDir)
		if r.code != 0 {
			t.Fatalf("build %d:\n%s", i, r)
		}
		// "total", two "-" files, a "p" FIFO; the socket is left out
		if !strings.Contains(r.stderr, " --pt\n") || !strings.Contains(r.stderr, " fifo\n") || strings.Contains(r.stderr, " sock\n") {
			t.Errorf("build %d: /ctx is not Dockerfile, f and the FIFO:\n%s", i, r.stderr)
		}
	}
}

// A context of 100,000 files copies whole (checked in the exported
// rootfs, without a RUN to keep the test short). The context is on a tmpfs:
// making 100,000 files on a busy CI disk takes longer than the build.
func TestContextHundredThousandFiles(t *testing.T) {
	t.Parallel()
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(mountTmpfs(t, "512m"), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM scratch\nCOPY d /d\n")
	const dirs, per = 100, 1000
	for i := 0; i < dirs; i++ {
		d := filepath.Join(ctxDir, "d", fmt.Sprintf("%03d", i))
		mkdir(t, d, 0o755)
		for j := 0; j < per; j++ {
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("%04d", j)), nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := filepath.Join(t.TempDir(), "rootfs.tar")
	start := time.Now()
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "-o", "type=tar,dest="+out, ctxDir)
	t.Logf("100,000 files built in %v", time.Since(start).Round(time.Millisecond))
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := 0
	for _, h := range testenv.TarHeaders(t, f) {
		if h.Typeflag == tar.TypeReg {
			files++
		}
	}
	if files != dirs*per {
		t.Errorf("the image holds %d files, want %d", files, dirs*per)
	}
}

// Files removed and recreated while the build reads the context: each
// build succeeds or fails with an error naming the file, never hangs or
// panics.
func TestContextFilesRemovedWhileRead(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nCOPY churn /churn\nRUN ls /churn | wc -l\n")
	churn := filepath.Join(ctxDir, "churn")
	mkdir(t, churn, 0o755)
	big := strings.Repeat("x", 256<<10)
	for i := 0; i < 200; i++ {
		writeFile(t, filepath.Join(churn, fmt.Sprintf("f%03d", i)), big)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			p := filepath.Join(churn, fmt.Sprintf("f%03d", i%200))
			os.Remove(p)
			os.WriteFile(p, []byte(big[:i%len(big)]), 0o644)
		}
	}()
	ok, failed := 0, 0
	for i := 0; i < 6; i++ {
		start := time.Now()
		r := runBuilder(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", busyboxContext(t), ctxDir)
		if took := time.Since(start); took > 2*time.Minute {
			t.Errorf("build %d took %v", i, took)
		}
		if strings.Contains(r.stderr, "panic") {
			t.Fatalf("build %d panicked:\n%s", i, r.stderr)
		}
		if r.code == 0 {
			ok++
			continue
		}
		failed++
		if !regexp.MustCompile(`ERROR: Dockerfile:2: COPY churn /churn: .*churn/f\d{3}`).MatchString(r.stderr) {
			t.Errorf("build %d failed without naming the file:\n%s", i, lastLines(r.stderr, 3))
		}
		t.Logf("build %d: %s", i, lastLines(r.stderr, 1))
	}
	close(stop)
	<-done
	t.Logf("%d builds succeeded, %d failed naming the file", ok, failed)
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", busyboxContext(t), ctxDir)
}
