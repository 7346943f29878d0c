#!/bin/sh
# The "compile" step of the demo: records who built it.
set -e
echo "built by $(id -un)"
