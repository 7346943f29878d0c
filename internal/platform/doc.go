// Package platform names target platforms the way containerd does
// (normalising "aarch64" to "arm64", "arm64/v8" to "arm64", "arm" to
// "arm/v7"), picks a platform's image out of an index, and detects which
// platforms this machine can run: its own, compatible ones (386 on amd64),
// and those with a binfmt_misc emulator registered with the F flag.
package platform
