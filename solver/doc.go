// Package solver turns parsed Dockerfile stages into images. It owns the
// DAG (one vertex per instruction, edges from FROM <stage>, COPY --from and
// RUN --mount from=), scheduling (every ready step at once, or at most
// WithJobs steps), stage pruning for --target, cache-key computation and
// progress events. How a layer is stored or a command is run belongs to the
// snapshot, executor, filecopy and store packages it drives; where a base
// image comes from to internal/imagesource.
//
// Files: build.go plans stages and runs them; dispatch.go expands an
// instruction and runs a layer step through the cache; from.go, run.go,
// copy.go, workdir.go and meta.go are the instructions; sources.go is what
// --from and the build context name (one FS per local source, for COPY,
// bind mounts and keys); image_source.go resolves images; mounts.go is RUN
// --mount; keys.go the key encoding; state.go a stage's state.
//
// A build's --secret values are masked in every event it reports and in its
// error; ARG and ENV keys that name sensitive data get a
// SecretsUsedInArgOrEnv warning.
// A Request with several Platforms is one solve (multi.go): a build per
// platform, run in parallel in the same job slots over the same context;
// a stage pinned with FROM --platform that declares no TARGET* arg runs
// once, in the first build, for all. RUN for a foreign platform needs a
// binfmt_misc emulator (internal/platform, platforms.go), checked before
// any step runs.
package solver
