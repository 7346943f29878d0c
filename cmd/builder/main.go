package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/builderdev/builder/cache"
	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/store"
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	if executor.Reexec() {
		return
	}
	// A non-root user runs as root of its own user namespace (rootless).
	if code, ok, err := executor.RunInUserNamespace(); ok || err != nil {
		if err != nil {
			fmt.Fprintf(os.Stderr, "builder: %v\n", err)
			code = 1
		}
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// globalOptions are the flags every subcommand takes.
type globalOptions struct {
	root string
	// profile is --debug-profile: a CPU profile of the command is written there.
	profile string
}

func (o *globalOptions) AddFlags(fs *pflag.FlagSet) {
	// The current value is the default: the flag may come before the
	// subcommand too.
	fs.StringVar(&o.root, "root", o.root, "store directory (env BUILDER_ROOT; default /var/lib/builder as root)")
	fs.StringVar(&o.profile, "debug-profile", o.profile, "write a Go CPU profile of the command to `FILE`, an execution trace if it ends in .trace (for performance work)")
	_ = fs.MarkHidden("debug-profile")
}

func (o *globalOptions) openStore() (*store.Store, error) {
	root := o.root
	if root == "" {
		root = store.DefaultRoot(os.Getenv, executor.StoreUID())
	}
	return store.Open(root)
}

// openCache opens the store and its cache.
func (o *globalOptions) openCache() (*store.Store, *cache.Cache, error) {
	st, err := o.openStore()
	if err != nil {
		return nil, nil, err
	}
	c, err := cache.Open(st.CacheDir(), st)
	if err != nil {
		return nil, nil, err
	}
	return st, c, nil
}

type command struct {
	name, usage, summary string
	run                  func(ctx context.Context, g *globalOptions, args []string, io stdio) error
	flags                func(fs *pflag.FlagSet) // adds the command's own flags
}

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Exit statuses: 0 success, 1 a failed build or command, 2 bad usage (an
// unknown command or flag, a bad flag value, a wrong number of arguments),
// 130 interrupted (SIGINT or SIGTERM).
const exitUsage = 2

// usageError marks err as bad usage (exit status 2).
func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

func run(ctx context.Context, args []string, in io.Reader, out, errw io.Writer) int {
	cmds := commands()
	g := &globalOptions{}
	// Global flags may come before the subcommand.
	gfs := pflag.NewFlagSet("builder", pflag.ContinueOnError)
	gfs.SetInterspersed(false)
	gfs.SetOutput(io.Discard)
	g.AddFlags(gfs)
	help := gfs.BoolP("help", "h", false, "show help")
	if err := gfs.Parse(args); err != nil {
		fmt.Fprintf(errw, "builder: %v\n", err)
		return 2
	}
	rest := gfs.Args()
	if *help || len(rest) == 0 || rest[0] == "help" {
		topic := ""
		if len(rest) > 1 {
			topic = rest[1]
		}
		if len(rest) == 0 && !*help {
			printHelp(errw, cmds, "") // no command is a usage error
			return 2
		}
		if !printHelp(out, cmds, topic) {
			fmt.Fprintf(errw, "builder help: unknown command %q\n", topic)
			return 2
		}
		return 0
	}
	var c *command
	for i := range cmds {
		if cmds[i].name == rest[0] {
			c = &cmds[i]
		}
	}
	if c == nil {
		fmt.Fprintf(errw, "builder: unknown command %q (see 'builder help')\n", rest[0])
		return 2
	}
	fs := c.flagSet(g)
	fs.SetOutput(errw)
	// pflag calls Usage on a bad flag too: that goes to stderr, --help to stdout.
	fs.Usage = func() {}
	if err := fs.Parse(rest[1:]); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			c.printUsage(out)
			return 0
		}
		fmt.Fprintf(errw, "builder %s: %v\nRun 'builder %s --help' for its flags.\n", c.name, err, c.name)
		return 2
	}
	stopProfile, err := startProfile(g.profile)
	if err != nil {
		fmt.Fprintf(errw, "builder: --debug-profile: %v\n", err)
		return 2
	}
	err = c.run(ctx, g, fs.Args(), stdio{in: in, out: out, err: errw})
	if perr := stopProfile(); perr != nil && err == nil {
		err = fmt.Errorf("write --debug-profile: %w", perr)
	}
	if err != nil {
		var ee *exitError
		if !errors.As(err, &ee) && ctx.Err() != nil {
			// A signal: not whatever "context canceled" it caused inside.
			err = interrupted(nil)
		}
		fmt.Fprintf(errw, "ERROR: %v\n", err)
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

func commands() []command {
	bo := &buildOptions{}
	ro := &rmOptions{}
	return []command{
		{name: "build", usage: "[flags] CONTEXT", summary: "Build an image from a Dockerfile.", run: bo.run, flags: bo.AddFlags},
		checkCommand(),
		imagesCommand(),
		historyCommand(),
		inspectCommand(),
		{name: "rm", usage: "TAG [TAG...]", summary: "Remove tags from the local store.", run: ro.run, flags: ro.AddFlags},
		pushCommand(),
		loginCommand(),
		logoutCommand(),
		pruneCommand(),
		duCommand(),
		fsckCommand(),
		infoCommand(),
		{name: "version", usage: "", summary: "Print the version.", run: func(_ context.Context, _ *globalOptions, _ []string, s stdio) error {
			fmt.Fprintf(s.out, "builder %s\n", version)
			return nil
		}},
	}
}

// flagSet returns a new flag set with the global flags and c's own.
func (c *command) flagSet(g *globalOptions) *pflag.FlagSet {
	fs := pflag.NewFlagSet("builder "+c.name, pflag.ContinueOnError)
	g.AddFlags(fs)
	if c.flags != nil {
		c.flags(fs)
	}
	return fs
}

// printUsage prints c's usage line, summary, its own flags and then the
// global ones.
func (c *command) printUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage: builder %s %s\n\n%s\n", c.name, c.usage, c.summary)
	own := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	if c.flags != nil {
		c.flags(own)
	}
	if own.HasFlags() {
		fmt.Fprintf(w, "\nFlags:\n%s", own.FlagUsages())
	}
	global := pflag.NewFlagSet("builder", pflag.ContinueOnError)
	(&globalOptions{}).AddFlags(global)
	fmt.Fprintf(w, "\nGlobal flags:\n%s", global.FlagUsages())
}

// printHelp prints the help of command topic, or the list of commands if
// topic is empty; it reports false for an unknown topic.
func printHelp(w io.Writer, cmds []command, topic string) bool {
	for i := range cmds {
		if c := &cmds[i]; c.name == topic {
			c.printUsage(w)
			return true
		}
	}
	if topic != "" {
		return false
	}
	fmt.Fprintln(w, "Usage: builder [--root DIR] COMMAND [flags]")
	fmt.Fprintln(w, "\nA daemonless Dockerfile image builder.")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "  help     Show help for a command.")
	fmt.Fprintln(w, "\nGlobal flags:\n  --root DIR   store directory (env BUILDER_ROOT)")
	return true
}
