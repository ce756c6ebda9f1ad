# child-processes.sh — sourced by the capture and test-suite scripts: stopping exactly the
# processes a script started, by PID, with every wait bounded.
#
# The sourcing script provides log() and STOP_TIMEOUT (seconds), and keeps the PIDs of its
# background processes in the array PIDS. wait_gone leaves a child's exit status in WAIT_RC.

# alive PID: true while PID exists and is not a zombie. Read from /proc, not ps: a bare
# Debian root has no procps, and a missing ps would make every child look dead.
alive() {
  local st
  st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  st=${st##*) }    # the state follows the command name, which is in parentheses
  [[ $st != Z* ]]
}

# wait_gone PID TIMEOUT: bounded wait for a child to exit; returns 1 on timeout
wait_gone() {
  local pid=$1 deadline=$((SECONDS + $2))
  while alive "$pid"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.1
  done
  WAIT_RC=0
  wait "$pid" 2>/dev/null || WAIT_RC=$?
  return 0
}

forget_pid() {
  local p keep=()
  for p in "${PIDS[@]+"${PIDS[@]}"}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  PIDS=("${keep[@]+"${keep[@]}"}")
}

# stop_pid PID SIGNAL: signal one of our children, bounded wait, then KILL
stop_pid() {
  local pid=$1 sig=$2
  if alive "$pid"; then
    kill "-$sig" "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "$STOP_TIMEOUT"; then
      log "PID $pid did not stop after SIG$sig, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      wait_gone "$pid" 5 || log "PID $pid still alive"
    fi
  else
    wait "$pid" 2>/dev/null || true
  fi
  forget_pid "$pid"
}
