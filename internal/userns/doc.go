// Package userns reads the user namespace this process runs in: whether it
// is the host's (initial) one, which host ids it maps, and the subordinate
// id ranges of /etc/subuid and /etc/subgid. It changes nothing.
package userns
