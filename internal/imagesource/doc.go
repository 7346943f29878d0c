// Package imagesource finds the images a build starts from or reads (FROM,
// COPY --from and RUN --mount from= an image): in an OCI image layout
// directory, in the local store or in a registry, and imports their layers
// into the store once by digest, leased for the build that uses them. It
// knows no Dockerfile, stage or cache key: the solver decides what to look
// up and how it is keyed.
package imagesource
