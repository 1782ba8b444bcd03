#!/usr/bin/env bash
# pause.bash: the gray-failure run of failover.bash — one of 4 nodes frozen with SIGSTOP for
# 5 s under GET and PUT load, then SIGCONT (issue 12). It fails unless every second of the
# pause keeps ≥ 50 % of the answers per second before it, no request takes over 250 ms, no
# request fails, and every acknowledged PUT reads back.
#
#   loadtest/pause.bash [--quick]    (LINKRING_BIN_DIR=dir: use the binaries there, no build)
exec "$(dirname "${BASH_SOURCE[0]}")/failover.bash" --sigstop "$@"
