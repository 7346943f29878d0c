// Package parser turns a Dockerfile into typed instructions with their line
// ranges, expands words the way Docker does (with ARG/ENV scoping) and reads
// .dockerignore files. It owns syntax, not execution.
package parser
