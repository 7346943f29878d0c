package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	regclient "github.com/builderdev/builder/registry"
)

// loginOptions are the flags of `builder login`.
type loginOptions struct {
	reg           registryOptions
	username      string
	password      string
	passwordStdin bool
}

func (o *loginOptions) AddFlags(fs *pflag.FlagSet) {
	o.reg.addConnFlags(fs)
	fs.StringVarP(&o.username, "username", "u", "", "user name")
	fs.StringVarP(&o.password, "password", "p", "", "password (prefer --password-stdin)")
	fs.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password from stdin")
}

func loginCommand() command {
	o := &loginOptions{}
	return command{
		name:    "login",
		usage:   "[flags] [REGISTRY]",
		summary: "Check credentials for a registry and save them in the Docker config (prompts on a terminal).",
		run:     o.run,
		flags:   o.AddFlags,
	}
}

func (o *loginOptions) run(ctx context.Context, g *globalOptions, args []string, s stdio) error {
	if len(args) > 1 {
		return &exitError{code: 2, err: errors.New(`"builder login" takes at most 1 argument: REGISTRY`)}
	}
	registry := "docker.io"
	if len(args) == 1 {
		registry = args[0]
	}
	username, password := o.username, o.password
	switch {
	case o.passwordStdin && password != "":
		return &exitError{code: 2, err: errors.New("login: --password and --password-stdin are exclusive")}
	case o.passwordStdin && username == "":
		return &exitError{code: 2, err: errors.New("login: --password-stdin needs --username")}
	case o.passwordStdin:
		data, err := io.ReadAll(s.in)
		if err != nil {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		password = strings.TrimRight(string(data), "\r\n")
		if password == "" {
			return &exitError{code: 2, err: errors.New("login: --password-stdin read an empty password")}
		}
	case password != "":
		fmt.Fprintln(s.err, "WARNING! Using --password via the command line is insecure. Use --password-stdin.")
	}
	if username == "" || password == "" {
		var err error
		if username, password, err = promptLogin(s, registry, username, password); err != nil {
			return err
		}
	}
	if err := regclient.Login(ctx, registry, username, password, o.reg.exporterOptions()...); err != nil {
		return err
	}
	file, err := regclient.DockerConfigFile(os.Getenv)
	if err != nil {
		return err
	}
	if err := regclient.SaveLogin(file, registry, username, password); err != nil {
		return err
	}
	fmt.Fprintln(s.out, "Login Succeeded")
	return nil
}

// promptLogin asks on the terminal for the user name and the password
// (which it does not echo) that are not given, as `docker login` does.
// Without a terminal on stdin it fails: scripts use --username and
// --password-stdin.
func promptLogin(s stdio, registry, username, password string) (string, string, error) {
	f, ok := s.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return "", "", &exitError{code: 2, err: fmt.Errorf("login %s: stdin is not a terminal, so no prompt for the user name and password: use --username and --password-stdin", registry)}
	}
	if username == "" {
		fmt.Fprintf(s.out, "Username: ")
		line, err := readLine(f)
		if err != nil {
			return "", "", fmt.Errorf("read user name: %w", err)
		}
		if username = strings.TrimSpace(line); username == "" {
			return "", "", &exitError{code: 2, err: errors.New("login: a user name is required")}
		}
	}
	if password != "" {
		return username, password, nil
	}
	pw, err := readPassword(f, s.out, "Password: ")
	fmt.Fprintln(s.out) // the newline the user typed was not echoed
	if err != nil {
		return "", "", fmt.Errorf("read password: %w", err)
	}
	if len(pw) == 0 {
		return "", "", &exitError{code: 2, err: errors.New("login: a password is required")}
	}
	return username, string(pw), nil
}

// readPassword turns the terminal's echo off, then prints prompt and reads
// a line: in this order, so that what is typed as soon as the prompt shows
// is never echoed (term.ReadPassword turns echo off only once called, after
// the prompt). The terminal's settings are put back.
func readPassword(f *os.File, out io.Writer, prompt string) ([]byte, error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	noEcho := *old
	noEcho.Lflag &^= unix.ECHO
	noEcho.Lflag |= unix.ICANON | unix.ISIG
	noEcho.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &noEcho); err != nil {
		return nil, err
	}
	defer unix.IoctlSetTermios(fd, unix.TCSETS, old)
	fmt.Fprint(out, prompt)
	line, err := readLine(f)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return []byte(line), nil
}

// readLine reads up to a newline a byte at a time, so nothing after it is
// taken from the terminal before the password prompt turns echo off.
func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := r.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				return strings.TrimSuffix(b.String(), "\r"), nil
			}
			b.WriteByte(buf[0])
		}
		if err == io.EOF && b.Len() > 0 {
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
	}
}

func logoutCommand() command {
	return command{
		name:    "logout",
		usage:   "[REGISTRY]",
		summary: "Remove the saved credentials of a registry from the Docker config.",
		run: func(_ context.Context, _ *globalOptions, args []string, s stdio) error {
			if len(args) > 1 {
				return &exitError{code: 2, err: errors.New(`"builder logout" takes at most 1 argument: REGISTRY`)}
			}
			registry := "docker.io"
			if len(args) == 1 {
				registry = args[0]
			}
			file, err := regclient.DockerConfigFile(os.Getenv)
			if err != nil {
				return err
			}
			found, err := regclient.RemoveLogin(file, registry)
			if err != nil {
				return err
			}
			if !found {
				fmt.Fprintf(s.out, "Not logged in to %s\n", registry)
				return nil
			}
			fmt.Fprintf(s.out, "Removing login credentials for %s\n", registry)
			return nil
		},
	}
}
