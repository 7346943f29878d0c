// Package shell expands words of Dockerfile instructions the way Docker
// (BuildKit's dockerfile frontend) does: $VAR and ${VAR} with the operators
// - + ? (each optionally with a leading colon), # ## % %% and / //, single and
// double quotes, and the escape character of the Dockerfile's escape
// directive. It runs nothing: there is no command substitution, arithmetic or
// globbing of file names.
//
// ProcessWord expands one word without splitting it. ProcessWords also splits
// the result into fields on unquoted white space, as Docker does for the
// ports of EXPOSE; every other instruction that Docker expands (ENV, ARG,
// LABEL, WORKDIR, USER, VOLUME, STOPSIGNAL, COPY/ADD sources, destination,
// --chown, --chmod, --from, --checksum, FROM, the flags of RUN --mount) is
// expanded word by word with ProcessWord, after the parser has split the
// instruction into words.
package shell
