// Package parser turns a Dockerfile into typed instructions with their line
// ranges, expands words the way Docker does (with ARG/ENV scoping) and reads
// .dockerignore files. It owns syntax, not execution.
//
// Parse uses buildkit's syntax-tree parser (directives, continuations,
// heredocs) and turns each node into one struct per instruction (From, Run,
// Cmd, Entrypoint, Copy — ADD is Copy with Add set —, Env, Arg, Label, Expose,
// User, Workdir, Volume, Shell, StopSignal, Healthcheck, Onbuild, Maintainer),
// holding the raw words. Errors are *Error ("Dockerfile:12: message").
// The words of ENV, LABEL and ARG are not split at spaces inside ${...}
// (B=${A:-two words} is one word; see braces.go).
//
// Expand returns a copy of an instruction with exactly the fields BuildKit
// expands. Globals and Scope implement BuildKit's ARG rules for a solver that
// walks a stage instruction by instruction:
//
//	g, err := parser.NewGlobals(df, parser.BuildArgs{Values: cliArgs, Build: bp, Target: tp})
//	from, err := g.ExpandFrom(stage.From)    // FROM sees only the global ARGs
//	sc := g.NewStage(baseImageConfigEnv)
//	for _, inst := range stage.Instructions {
//		x, err := sc.Step(inst)               // expanded against the scope, ENV/ARG applied
//		... act on x; RUN gets sc.RunEnv() as captured before its Step ...
//	}
package parser
