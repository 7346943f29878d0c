package parser

import "time"

// Location is the line range of an instruction in its Dockerfile (1-based,
// inclusive; heredoc bodies included).
type Location struct {
	File  string
	Start int
	End   int
}

// Instruction is one typed Dockerfile instruction. Its fields hold the raw,
// unexpanded words; see Expand.
type Instruction interface {
	Location() Location
	// Original is the instruction's text as written, continuation lines joined
	// (heredoc bodies not included).
	Original() string
}

// Base carries what every instruction has: where it is and how it was written.
// It implements Instruction and is embedded in every instruction type.
type Base struct {
	Loc  Location
	Orig string
}

// Location returns the instruction's line range.
func (b Base) Location() Location { return b.Loc }

// Original returns the instruction's text as written.
func (b Base) Original() string { return b.Orig }

var (
	_ Instruction = (*From)(nil)
	_ Instruction = (*Run)(nil)
	_ Instruction = (*Cmd)(nil)
	_ Instruction = (*Entrypoint)(nil)
	_ Instruction = (*Copy)(nil)
	_ Instruction = (*Env)(nil)
	_ Instruction = (*Arg)(nil)
	_ Instruction = (*Label)(nil)
	_ Instruction = (*Expose)(nil)
	_ Instruction = (*User)(nil)
	_ Instruction = (*Workdir)(nil)
	_ Instruction = (*Volume)(nil)
	_ Instruction = (*Shell)(nil)
	_ Instruction = (*StopSignal)(nil)
	_ Instruction = (*Healthcheck)(nil)
	_ Instruction = (*Onbuild)(nil)
	_ Instruction = (*Maintainer)(nil)
)

// From starts a stage: FROM [--platform=P] image [AS name].
type From struct {
	Base
	Image    string
	Platform string
	// Name is the stage name, lowercased; "" when there is no AS.
	Name string
}

// Heredoc is an inline document (<<EOF ... EOF).
type Heredoc struct {
	Name string
	// Content is the body up to the terminator, newlines included. With Chomp
	// (<<-EOF) leading tabs are already removed from every line.
	Content string
	Chomp   bool
	// Expand is false when the name was quoted (<<"EOF" or <<'EOF'): the body
	// must not be expanded.
	Expand bool
}

// Run is RUN [--mount=...] [--network=...] [--security=...] command.
type Run struct {
	Base
	// Shell is true for the shell form: Cmd then holds one string, the command
	// line, to be run by the stage's SHELL. False for the exec (JSON) form.
	Shell    bool
	Cmd      []string
	Heredocs []Heredoc
	Mounts   []*Mount
	// Network is "default", "none" or "host".
	Network string
	// Security is "sandbox" or "insecure".
	Security string
}

// Cmd is CMD, in shell form (Shell true, one string) or exec form.
type Cmd struct {
	Base
	Shell bool
	Cmd   []string
}

// Entrypoint is ENTRYPOINT, in shell form (Shell true, one string) or exec
// form. An empty exec form (ENTRYPOINT []) gives a nil Cmd.
type Entrypoint struct {
	Base
	Shell bool
	Cmd   []string
}

// Copy is COPY, or ADD when Add is true.
type Copy struct {
	Base
	Add bool
	// Sources are the source paths (or URLs for ADD), heredoc sources excluded.
	Sources []string
	// Heredocs are inline file sources (COPY <<EOF /dest), in order; the file
	// name of each is its Name.
	Heredocs []Heredoc
	Dest     string
	From     string // COPY only
	Chown    string
	Chmod    string
	Link     bool
	Parents  bool // COPY only
	Excludes []string
	// ADD only.
	Checksum   string
	KeepGitDir bool
	// Unpack is nil unless --unpack was given.
	Unpack *bool
}

// KeyValue is one pair of ENV or LABEL.
type KeyValue struct {
	Key   string
	Value string
}

// Env is ENV k=v ... (or the legacy ENV k v).
type Env struct {
	Base
	Pairs []KeyValue
}

// ArgDef is one declaration of an ARG line; Value is nil without a default.
type ArgDef struct {
	Key   string
	Value *string
}

// Arg is ARG name[=default] ...
type Arg struct {
	Base
	Args []ArgDef
}

// Label is LABEL k=v ...
type Label struct {
	Base
	Pairs []KeyValue
}

// Expose is EXPOSE port[/proto] ...; Ports are sorted as Docker does.
type Expose struct {
	Base
	Ports []string
}

// User is USER user[:group].
type User struct {
	Base
	User string
}

// Workdir is WORKDIR path.
type Workdir struct {
	Base
	Path string
}

// Volume is VOLUME path ... (JSON or plain).
type Volume struct {
	Base
	Volumes []string
}

// Shell is SHELL ["exe", "arg", ...] (JSON form only).
type Shell struct {
	Base
	Shell []string
}

// StopSignal is STOPSIGNAL signal.
type StopSignal struct {
	Base
	Signal string
}

// Healthcheck is HEALTHCHECK NONE or HEALTHCHECK [options] CMD command.
type Healthcheck struct {
	Base
	// Test is as in the image config: ["NONE"], ["CMD", args...] (exec form)
	// or ["CMD-SHELL", "command line"] (shell form).
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration
	Retries       int
}

// Onbuild is ONBUILD instruction.
type Onbuild struct {
	Base
	// Expression is the trigger as stored in the image config (the text after
	// ONBUILD, heredoc bodies appended).
	Expression string
	// Instruction is the trigger parsed and typed (its Location is that of the
	// ONBUILD line).
	Instruction Instruction
}

// Maintainer is the deprecated MAINTAINER name.
type Maintainer struct {
	Base
	Maintainer string
}
