// Package ctxio has readers that stop when a context is done, so that long
// copies of layers and files end promptly on Ctrl-C or a failed build, and
// a buffered pipe, so that a layer's writer and its extraction run at once.
package ctxio
