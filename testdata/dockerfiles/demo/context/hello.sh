#!/bin/sh
echo "$GREETING"
cat /etc/demo-build-info
