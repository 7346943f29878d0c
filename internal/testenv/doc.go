// Package testenv is the real-component test harness shared by every
// package's tests and by the end-to-end suite: a Debian docker-registry
// (plain, TLS + basic auth, or TLS + token auth) started per test, a
// seeded fault-injecting proxy in front of it (FaultProxy), a
// deterministic busybox base image as an OCI layout, and checks done the way
// a client would (skopeo, umoci, runc, raw tar headers), the runc config of
// a simulated Kubernetes pod (WritePodConfig), plus a leak check
// for mounts and processes left behind. Everything lives under t.TempDir()
// and is stopped in t.Cleanup. It is imported only from _test.go files.
package testenv
