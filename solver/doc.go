// Package solver turns parsed Dockerfile stages into images. It owns the
// DAG (one vertex per instruction, edges from FROM <stage>, COPY --from and
// RUN --mount from=), scheduling (every ready step at once, or at most
// WithJobs steps), stage pruning for --target, cache-key computation and
// progress events. How a layer is stored or a command is run belongs to the
// snapshot, executor, filecopy and store packages it drives. A build's
// --secret values are masked in every event it reports and in its error;
// ARG and ENV keys that name sensitive data get a SecretsUsedInArgOrEnv
// warning.
package solver
