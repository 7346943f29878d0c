package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/builderdev/builder/exporter"
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
		summary: "Check credentials for a registry and save them in the Docker config.",
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
	if o.username == "" {
		return &exitError{code: 2, err: errors.New("login: --username is required")}
	}
	password := o.password
	switch {
	case o.passwordStdin && password != "":
		return &exitError{code: 2, err: errors.New("login: --password and --password-stdin are exclusive")}
	case o.passwordStdin:
		data, err := io.ReadAll(s.in)
		if err != nil {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		password = strings.TrimRight(string(data), "\r\n")
	case password != "":
		fmt.Fprintln(s.err, "WARNING! Using --password via the command line is insecure. Use --password-stdin.")
	}
	if password == "" {
		return &exitError{code: 2, err: errors.New("login: a password is required (--password-stdin)")}
	}
	if err := exporter.Login(ctx, registry, o.username, password, o.reg.exporterOptions()...); err != nil {
		return err
	}
	file, err := exporter.DockerConfigFile(os.Getenv)
	if err != nil {
		return err
	}
	if err := exporter.SaveLogin(file, registry, o.username, password); err != nil {
		return err
	}
	fmt.Fprintln(s.out, "Login Succeeded")
	return nil
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
			file, err := exporter.DockerConfigFile(os.Getenv)
			if err != nil {
				return err
			}
			found, err := exporter.RemoveLogin(file, registry)
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
