// Package imagesize reads an image's layers as tar streams (headers only)
// and says where its bytes went: per layer the instruction that made it, its
// size, the bytes a later layer overwrites or deletes, the package-manager
// caches it leaves in the final filesystem and its largest files; for the
// image the efficiency score as dive computes it. It imports nothing of ours.
package imagesize
