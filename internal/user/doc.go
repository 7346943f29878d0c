// Package user resolves USER and --chown specifications ("name", "uid",
// "uid:gid", "name:group", ...) against the /etc/passwd and /etc/group of an
// image root, the way runc (for USER) and BuildKit (for --chown) do.
package user
