// Package ctxio has readers that stop when a context is done, so that long
// copies of layers and files end promptly on Ctrl-C or a failed build.
package ctxio
