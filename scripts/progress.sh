#!/usr/bin/env bash
# Run a step of `make run`/`make test` and keep the person waiting informed.
# Usage: scripts/progress.sh "what is happening" "how long it usually takes" CMD [ARGS...]
# Prints the step, a "still working (N s)" line every INTERVAL seconds while the
# command is silent or not (pip and npm print nothing for minutes), and the time it took.
# The command's own output passes through; its exit status is returned.
set -uo pipefail
what=$1; expect=$2; shift 2
interval=${PROGRESS_INTERVAL:-15}
start=$SECONDS
echo "==> $what ($expect)"
"$@" &
pid=$!
(
  # Polls every second, so that nothing of it outlives the step by more than that.
  next=$((start + interval))
  while sleep 1 && kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$next" ]; then
      echo "    ... still $what ($((SECONDS - start)) s so far)"
      next=$((next + interval))
    fi
  done
) &
ticker=$!
wait "$pid"
status=$?
kill "$ticker" 2>/dev/null
wait "$ticker" 2>/dev/null
if [ "$status" -eq 0 ]; then
  echo "    done in $((SECONDS - start)) s: $what"
else
  echo "    FAILED after $((SECONDS - start)) s (exit $status): $what" >&2
fi
exit "$status"
